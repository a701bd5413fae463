/// A decoded term held as one flat array of 16-byte nodes that refer into the encoded bytes:
/// what `binary_to_term` builds on a process heap, without an allocation per tuple, list,
/// binary and map.
///
/// `TermDecoder` makes a `Term`, an enum whose tuples, lists, binaries and maps are each their
/// own array or dictionary: decoding is bound by `malloc` and `free` (half of a batch of log
/// events' decode in callgrind). `FlatTerm(decoding:)` checks exactly what `TermDecoder` checks
/// (the fuzz target and the tests decode every input both ways and require the same outcome and
/// an equal term) but allocates once: a container's elements are consecutive nodes, binaries,
/// atoms and Latin-1 strings are offsets into the input, which the flat term keeps (an array
/// shares its storage, so nothing is copied). Kinds with no node of their own (big integers,
/// bitstrings, pids, ports, references, funs, and atoms whose names are not in the input as
/// UTF-8) are decoded as `Term` beside the nodes.
///
/// Read it through `root` (`FlatTerm.Element`: kinds, integers, atom names, binaries, elements,
/// map values by atom key, without building terms), or make the whole `Term` with `term`.
public struct FlatTerm: Sendable {
    /// The three arrays behind one reference: every `Element` read carries the flat term, and
    /// with the arrays held directly each copy of an element was three retains and three
    /// releases (a third of reading a metric reply, in callgrind).
    final class Storage: Sendable {
        /// The bytes the nodes refer into: the input, or a compressed input's inflated bytes.
        let bytes: [UInt8]
        /// The nodes; the root is node 0.
        let nodes: [FlatNode]
        /// The terms of `.boxed` and `.boxedAtom` nodes.
        let boxed: [Term]
        /// The atoms of `.cachedAtom` nodes: the distribution header's list the term was
        /// decoded with (`TermDecoder.atomCache`), shared, not copied.
        let headerAtoms: [Atom]

        init(bytes: [UInt8], nodes: [FlatNode], boxed: [Term], headerAtoms: [Atom]) {
            self.bytes = bytes
            self.nodes = nodes
            self.boxed = boxed
            self.headerAtoms = headerAtoms
        }

        /// The atom of a `.boxedAtom` or `.cachedAtom` node; nil for other nodes.
        @inline(__always)
        func atom(of node: FlatNode) -> Atom? { node.atom(boxed: boxed, headerAtoms: headerAtoms) }
    }

    let storage: Storage

    init(bytes: [UInt8], nodes: [FlatNode], boxed: [Term], headerAtoms: [Atom] = []) {
        storage = Storage(bytes: bytes, nodes: nodes, boxed: boxed, headerAtoms: headerAtoms)
    }

    init(storage: Storage) {
        self.storage = storage
    }

    var bytes: [UInt8] { storage.bytes }
    var nodes: [FlatNode] { storage.nodes }
    var boxed: [Term] { storage.boxed }

    /// The term's top.
    public var root: Element { Element(flat: self, node: nodes[0]) }

    /// The whole term as a `Term`, equal to what `TermDecoder` decodes from the same bytes.
    public var term: Term { root.term }

    /// Nodes in the arena (for the benchmarks' memory figures and the tests).
    public var nodeCount: Int { nodes.count }

    /// Calls `body` with a view of the nodes, the bytes and the boxed terms.
    func withView<Result>(_ body: (FlatView) -> Result) -> Result {
        let storage = storage
        return storage.nodes.withUnsafeBufferPointer { nodes in
            storage.bytes.withUnsafeBytes { raw in body(FlatView(nodes: nodes.baseAddress!, raw: raw, boxed: storage.boxed, headerAtoms: storage.headerAtoms)) }
        }
    }
}


extension FlatTerm: Equatable {
    /// Flat terms are equal when the terms they hold are (however they were encoded).
    public static func == (lhs: FlatTerm, rhs: FlatTerm) -> Bool { lhs.term == rhs.term }
}
