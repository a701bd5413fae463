import ErlangTerm

/// A connection's outgoing atom cache: the atoms the peer holds for it, as the headers sent
/// so far put them there (`DistributionFrameEncoder.writeAtomCacheRefs`), and the last header
/// that added none, which the next message naming the same atoms repeats byte for byte (until
/// a header adds an entry, which may replace one it refers to).
///
/// A sender sends the same few atoms again and again (an rpc's `rex`, `call` and `user`, a
/// one-way message's registered name): repeating the header skips each atom's slot and table
/// check, a tenth of a one-way send's instructions in callgrind.
///
/// The table remembers at most `limit` slots. It need not know every slot the peer holds, only
/// be right about those it names: an atom whose slot it does not hold goes with its name, as
/// a new entry, every time. A server holds one cache per managed node, and unbounded each
/// would keep every atom ever sent there (an agent's loading and its arguments name many).
/// The slots taken first stay, and they are the hot ones: a connection starts with rpc, whose
/// atoms every later call names again.
struct OutgoingAtomCache {
    /// The most slots remembered: 48 keep the table at 64 entries (three quarters full at
    /// most).
    static let limit = 48

    private(set) var table = AtomCacheTable<Atom>()
    /// The atoms of the last header that added no entry, held (so that no other string can
    /// take their storage, which the comparison below relies on), and its bytes.
    private var repeatable: (atoms: [Atom], header: [UInt8])?

    /// Notes that a header's new entry put `atom` in the peer's `slot`; the kept header may now
    /// be wrong. A slot the table already holds is updated (else it would name the atom the
    /// peer no longer has there); a new one is remembered only while the table has room.
    mutating func put(_ atom: Atom, at slot: UInt16) {
        repeatable = nil
        guard table.count < Self.limit || table[slot] != nil else { return }
        table[slot] = atom
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
