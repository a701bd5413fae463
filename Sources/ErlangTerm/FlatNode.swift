/// One node of a `FlatTerm`: 16 bytes, no references, so the arena is one allocation that
/// `free` releases without walking it.
struct FlatNode: Sendable {
    enum Kind: UInt8, Sendable {
        case integer, float, atom, boxedAtom, cachedAtom, binary, string, tuple, list, improperList, map, boxed
    }

    /// `.integer`: the value's bit pattern; `.float`: the double's bits; `.atom`, `.binary`,
    /// `.string`: the offset of the bytes in `FlatTerm.bytes`; `.tuple`, `.list`, `.improperList`,
    /// `.map`: the index of the first child node; `.boxed`, `.boxedAtom`: the index in `boxed`;
    /// `.cachedAtom`: the index in `headerAtoms`.
    var payload: UInt64
    /// `.atom`, `.binary`, `.string`: bytes; `.tuple`, `.list`: elements; `.improperList`:
    /// elements before the tail (the tail is the child after them); `.map`: pairs (keys and
    /// values alternate in the children).
    var count: UInt32
    var kind: Kind

    @inline(__always)
    init(_ kind: Kind, payload: UInt64, count: UInt32 = 0) {
        self.payload = payload
        self.count = count
        self.kind = kind
    }
}

extension FlatNode {
    /// The atom of a `.boxedAtom` node (in `boxed`) or a `.cachedAtom` node (in `headerAtoms`);
    /// nil for other nodes.
    @inline(__always)
    func atom(boxed: [Term], headerAtoms: [Atom]) -> Atom? {
        switch kind {
        case .cachedAtom: return headerAtoms[Int(payload)]
        case .boxedAtom:
            guard case .atom(let atom) = boxed[Int(payload)] else { return nil }
            return atom
        default: return nil
        }
    }
}
