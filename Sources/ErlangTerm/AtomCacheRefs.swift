/// The atoms one distribution message names through its header's atom cache references: the
/// encoder writes such an atom as `ATOM_CACHE_REF` (tag 82) and its index in `atoms`, and the
/// header then gives the peer each one's cache slot, with its name only the first time
/// (`DistributionFrameEncoder` in ErlangDist). The BEAM sends every message so: the receiving
/// node looks an atom up by slot instead of hashing its name into its atom table, once per
/// atom per message.
public struct AtomCacheRefs: Sendable {
    /// The header's count is one byte; atoms past these are written by name.
    public static let limit = 255

    /// In the order of their first use, each once.
    public private(set) var atoms: [Atom] = []

    public init() {}

    /// The index of `atom` (added when new), or nil when the list is full or the name is over
    /// 255 bytes (the header's lengths are then two bytes each; such atoms are written by
    /// name). `utf8` is the atom's name.
    mutating func index(of atom: Atom, utf8: UnsafeBufferPointer<UInt8>) -> UInt8? {
        guard utf8.count <= 255 else { return nil }
        // A message names a few atoms (an rpc request six): a scan, comparing lengths first.
        for (index, known) in atoms.enumerated() where known.name.utf8.count == utf8.count && known == atom {
            return UInt8(truncatingIfNeeded: index)
        }
        guard atoms.count < Self.limit else { return nil }
        if atoms.isEmpty { atoms.reserveCapacity(8) }
        atoms.append(atom)
        return UInt8(truncatingIfNeeded: atoms.count - 1)
    }
}
