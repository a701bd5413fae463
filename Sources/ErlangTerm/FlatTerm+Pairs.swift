#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FlatTerm {
    /// A node read in place inside `Element.forEachPair`, valid only in the call that received
    /// it: it points into the flat term's arrays without holding them.
    ///
    /// A metric reply is a list of about 125 `{Name, Value}` tuples read once each. Through
    /// `Element`, every element read retained and released the flat term and checked its kind
    /// and bounds again: 600 instructions a metric in callgrind, an eighth of a collection.
    public struct Borrowed {
        let view: FlatView
        let node: FlatNode

        public var kind: Element.Kind { Element.kind(of: node) }

        /// An integer or a float as a `Double`, as `Term.doubleValue` reads it (big integers
        /// too); nil for other kinds.
        public var number: Double? {
            switch node.kind {
            case .integer: return Double(Int(truncatingIfNeeded: node.payload))
            case .float: return Double(bitPattern: node.payload)
            case .boxed: return view.boxed[Int(node.payload)].doubleValue
            default: return nil
            }
        }

        /// Whether this is the atom `name`, compared by bytes.
        public func isAtom(_ name: String) -> Bool {
            var name = name
            return name.withUTF8 { wanted in
                view.withAtomName(node) { bytes in
                    bytes.count == wanted.count && (bytes.isEmpty || memcmp(bytes.baseAddress!, wanted.baseAddress!, bytes.count) == 0)
                } ?? false
            }
        }

        /// An atom's name, a UTF-8 binary or a list of code points as text (nil for others, and
        /// for a binary that is not UTF-8).
        public var text: String? {
            switch node.kind {
            case .atom, .boxedAtom: return view.withAtomName(node) { String(decoding: $0, as: UTF8.self) }
            case .binary: return String(validating: view.bytes(node), as: UTF8.self)
            case .string, .list: return view.term(node).stringValue
            default: return nil
            }
        }

        /// This node and everything under it as a `Term`.
        public var term: Term { view.term(node) }
    }
}

extension FlatTerm.Element {
    /// Calls `body` with the two elements of each `{First, Second}` tuple of this list, in
    /// order, read in place; other elements, and other kinds than lists, are passed over.
    public func forEachPair(_ body: (_ first: FlatTerm.Borrowed, _ second: FlatTerm.Borrowed) throws -> Void) rethrows {
        guard node.kind == .list || node.kind == .improperList else { return }
        let storage = flat.storage
        try storage.nodes.withUnsafeBufferPointer { nodes in
            try storage.bytes.withUnsafeBytes { raw in
                let view = FlatView(nodes: nodes.baseAddress!, raw: raw, boxed: storage.boxed)
                let first = Int(node.payload)
                for index in first..<first + Int(node.count) {
                    let entry = nodes[index]
                    guard entry.kind == .tuple, entry.count == 2 else { continue }
                    let child = Int(entry.payload)
                    try body(FlatTerm.Borrowed(view: view, node: nodes[child]), FlatTerm.Borrowed(view: view, node: nodes[child + 1]))
                }
            }
        }
    }
}
