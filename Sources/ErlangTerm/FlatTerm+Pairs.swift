#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FlatTerm {
    /// A node read in place inside `Element.forEachPair`, valid only in the call that received
    /// it: it refers to the flat term's storage without holding it (no reference count to
    /// update when it is made, copied or dropped).
    ///
    /// A metric reply is a list of about 125 `{Name, Value}` tuples read once each. Through
    /// `Element`, every element read retained and released the flat term and checked its kind
    /// and bounds again: 600 instructions a metric in callgrind, an eighth of a collection.
    public struct Borrowed {
        let storage: Unmanaged<FlatTerm.Storage>
        let node: FlatNode

        public var kind: Element.Kind { Element.kind(of: node) }

        /// An integer or a float as a `Double`, as `Term.doubleValue` reads it (big integers
        /// too); nil for other kinds.
        public var number: Double? {
            switch node.kind {
            case .integer: return Double(Int(truncatingIfNeeded: node.payload))
            case .float: return Double(bitPattern: node.payload)
            case .boxed: return storage._withUnsafeGuaranteedRef { $0.boxed[Int(node.payload)].doubleValue }
            default: return nil
            }
        }

        /// Whether this is the atom `name`, compared by bytes, as `Atom`'s `==` compares.
        public func isAtom(_ name: String) -> Bool {
            switch node.kind {
            case .atom:
                let start = Int(node.payload), count = Int(node.count)
                return storage._withUnsafeGuaranteedRef { storage in
                    storage.bytes.withUnsafeBytes { raw in
                        name.utf8.withContiguousStorageIfAvailable { wanted in
                            wanted.count == count && (count == 0 || memcmp(raw.baseAddress! + start, wanted.baseAddress!, count) == 0)
                        } ?? raw[start..<start + count].elementsEqual(name.utf8)
                    }
                }
            case .cachedAtom:
                // An atom from the atom cache, as distribution sends most (a metric reply's
                // every name): compared where the header keeps it, no `Atom` copied or made
                // (a retain and release each, a third of the comparison).
                return storage._withUnsafeGuaranteedRef { storage in
                    storage.headerAtoms.withUnsafeBufferPointer { atoms in
                        let index = Int(node.payload)
                        return index < atoms.count && Atom.namesEqual(atoms[index].name, name)
                    }
                }
            case .boxedAtom:
                return storage._withUnsafeGuaranteedRef { storage in
                    guard let atom = storage.atom(of: node) else { return false }
                    return atom == Atom(name)
                }
            default:
                return false
            }
        }

        /// An atom's name, a UTF-8 binary or a list of code points as text (nil for others, and
        /// for a binary that is not UTF-8).
        public var text: String? {
            switch node.kind {
            case .boxedAtom, .cachedAtom:
                return storage._withUnsafeGuaranteedRef { storage in storage.atom(of: node)?.name }
            case .atom: return withView { view in view.withAtomName(node) { String(decoding: $0, as: UTF8.self) } }
            case .binary: return withView { view in String(validating: view.bytes(node), as: UTF8.self) }
            case .string, .list: return term.stringValue
            default: return nil
            }
        }

        /// This node and everything under it as a `Term`.
        public var term: Term { withView { $0.term(node) } }

        private func withView<Result>(_ body: (FlatView) -> Result) -> Result {
            storage._withUnsafeGuaranteedRef { FlatTerm(storage: $0).withView(body) }
        }
    }
}

extension FlatTerm.Element {
    /// Calls `body` with the two elements of each `{First, Second}` tuple of this list, in
    /// order, read in place; other elements, and other kinds than lists, are passed over.
    public func forEachPair(_ body: (_ first: FlatTerm.Borrowed, _ second: FlatTerm.Borrowed) throws -> Void) rethrows {
        guard node.kind == .list || node.kind == .improperList else { return }
        let storage = flat.storage
        try withExtendedLifetime(storage) {
            let unmanaged = Unmanaged.passUnretained(storage)
            try storage.nodes.withUnsafeBufferPointer { nodes in
                let first = Int(node.payload)
                for index in first..<first + Int(node.count) {
                    let entry = nodes[index]
                    guard entry.kind == .tuple, entry.count == 2 else { continue }
                    let child = Int(entry.payload)
                    try body(FlatTerm.Borrowed(storage: unmanaged, node: nodes[child]), FlatTerm.Borrowed(storage: unmanaged, node: nodes[child + 1]))
                }
            }
        }
    }
}
