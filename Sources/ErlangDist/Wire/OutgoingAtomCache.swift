import ErlangTerm

/// A connection's outgoing atom cache: the atoms the peer holds for it, as the headers sent
/// so far put them there (`DistributionFrameEncoder.writeAtomCacheRefs`), and the last header
/// that added none, which the next message naming the same atoms repeats byte for byte (until
/// a header adds an entry, which may replace one it refers to).
///
/// A sender sends the same few atoms again and again (an rpc's `rex`, `call` and `user`, a
/// one-way message's registered name): repeating the header skips each atom's slot and table
/// check, a tenth of a one-way send's instructions in callgrind.
struct OutgoingAtomCache {
    private(set) var table = AtomCacheTable()
    /// The atoms of the last header that added no entry, held (so that no other string can
    /// take their storage, which the comparison below relies on), and its bytes.
    private var repeatable: (atoms: [Atom], header: [UInt8])?

    /// Puts `atom` in `slot`, as a header's new entry does; the kept header may now be wrong.
    mutating func put(_ atom: Atom, at slot: UInt16) {
        table[slot] = atom
        repeatable = nil
    }

    /// The header for `atoms` when they are the last kept header's: the same strings, told by
    /// their bits (both sides hold theirs, so equal bits are the same string).
    func repeatedHeader(for atoms: UnsafeBufferPointer<AtomCacheRefs.Entry>) -> [UInt8]? {
        guard MemoryLayout<Atom>.size == MemoryLayout<(UInt, UInt)>.size,  // 64-bit platforms
              let repeatable, repeatable.atoms.count == atoms.count else { return nil }
        return repeatable.atoms.withUnsafeBytes { kept in
            for index in atoms.indices {
                let held = kept.load(fromByteOffset: index * MemoryLayout<Atom>.stride, as: (UInt, UInt).self)
                if held != unsafeBitCast(atoms[index].atom, to: (UInt, UInt).self) { return nil }
            }
            return repeatable.header
        }
    }

    /// Keeps `header`, written for `atoms` without adding an entry, for the next message.
    mutating func keep(_ header: UnsafeRawBufferPointer, for atoms: UnsafeBufferPointer<AtomCacheRefs.Entry>) {
        repeatable = (atoms.map(\.atom), Array(header))
    }
}
