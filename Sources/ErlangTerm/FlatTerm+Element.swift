extension FlatTerm {
    /// A node of a flat term, read in place.
    public struct Element: Sendable {
        let flat: FlatTerm
        let node: FlatNode

        public enum Kind: Sendable, Equatable {
            case integer, float, atom, binary, tuple, list, improperList, map
            /// A big integer, bitstring, pid, port, reference, external or local fun: read it
            /// through `term`.
            case other
        }

        public var kind: Kind { Self.kind(of: node) }

        static func kind(of node: FlatNode) -> Kind {
            switch node.kind {
            case .integer: return .integer
            case .float: return .float
            case .atom, .boxedAtom, .cachedAtom: return .atom
            case .binary: return .binary
            case .tuple: return .tuple
            case .list, .string: return .list
            case .improperList: return .improperList
            case .map: return .map
            case .boxed: return .other
            }
        }

        /// A tuple's arity, a list's length (an improper list's before its tail), a map's pairs,
        /// a binary's bytes; 0 for other kinds.
        public var count: Int {
            switch node.kind {
            case .tuple, .list, .string, .improperList, .map, .binary: return Int(node.count)
            default: return 0
            }
        }

        /// Element `index` of a tuple or list (proper or not), or nil when out of range or not one.
        public func element(_ index: Int) -> Element? {
            guard index >= 0, index < count else { return nil }
            switch node.kind {
            case .tuple, .list, .improperList: return Element(flat: flat, node: flat.storage.nodes[Int(node.payload) + index])
            case .string: return Element(flat: flat, node: FlatNode(.integer, payload: UInt64(flat.storage.bytes[Int(node.payload) + index])))
            default: return nil
            }
        }

        /// The elements of a tuple or list (an improper list's before its tail); empty for others.
        public var elements: [Element] {
            guard node.kind != .map, node.kind != .binary else { return [] }
            return (0..<count).compactMap { element($0) }
        }

        /// An improper list's tail.
        public var tail: Element? {
            guard node.kind == .improperList else { return nil }
            return Element(flat: flat, node: flat.storage.nodes[Int(node.payload) + Int(node.count)])
        }

        /// Key and value of a map's pair `index` (in the order of the encoding).
        public func pair(_ index: Int) -> (key: Element, value: Element)? {
            guard node.kind == .map, index >= 0, index < count else { return nil }
            let first = Int(node.payload) + 2 * index
            return (Element(flat: flat, node: flat.storage.nodes[first]), Element(flat: flat, node: flat.storage.nodes[first + 1]))
        }

        /// A map's value under the atom `name`, found without building terms.
        public func value(forAtom name: String) -> Element? {
            guard node.kind == .map else { return nil }
            for index in 0..<count {
                let first = Int(node.payload) + 2 * index
                if Element(flat: flat, node: flat.storage.nodes[first]).isAtom(name) {
                    return Element(flat: flat, node: flat.storage.nodes[first + 1])
                }
            }
            return nil
        }

        /// The value of an integer that fits in 64 bits.
        public var integer: Int? { node.kind == .integer ? Int(truncatingIfNeeded: node.payload) : nil }

        public var double: Double? { node.kind == .float ? Double(bitPattern: node.payload) : nil }

        /// Whether this is the atom `name`, compared by bytes (`Borrowed.isAtom`, which the
        /// metric reply's names go through).
        public func isAtom(_ name: String) -> Bool {
            withExtendedLifetime(flat.storage) { FlatTerm.Borrowed(storage: Unmanaged.passUnretained($0), node: node).isAtom(name) }
        }

        /// An atom as an `Atom`, through the thread's atom table (`AtomTable`): a name seen
        /// before on this thread costs a hash of its bytes and a retain, not a new `String`
        /// (one allocation for a name over 15 bytes, as most metric names are). Nil for others.
        public var atom: Atom? {
            switch node.kind {
            case .atom:
                return flat.withView { view in
                    let bytes = view.bytes(node)
                    do {
                        return try AtomTable.current.atom(bytes) { Atom(String(decoding: $0, as: UTF8.self)) }
                    } catch {
                        return nil  // `make` does not throw
                    }
                }
            case .boxedAtom, .cachedAtom:
                return flat.storage.atom(of: node)
            default:
                return nil
            }
        }

        public var atomName: String? {
            flat.withView { $0.withAtomName(node) { String(decoding: $0, as: UTF8.self) } }
        }

        /// A binary of UTF-8 or a list of code points as text, as `Term.stringValue` reads it.
        public var stringValue: String? {
            switch kind {
            case .binary: return withBinary { String(validating: $0, as: UTF8.self) } ?? nil
            case .list: return term.stringValue
            default: return nil
            }
        }

        /// A binary's bytes, copied out.
        public var bytes: [UInt8]? {
            guard node.kind == .binary else { return nil }
            let start = Int(node.payload)
            return Array(flat.storage.bytes[start..<start + Int(node.count)])
        }

        /// Calls `body` with a binary's bytes in place; nil when this is not a binary.
        public func withBinary<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result? {
            guard node.kind == .binary else { return nil }
            let start = Int(node.payload), count = Int(node.count)
            return try flat.storage.bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<start + count])) }
        }

        /// This node and everything under it as a `Term`.
        public var term: Term { flat.withView { $0.term(node) } }
    }
}
