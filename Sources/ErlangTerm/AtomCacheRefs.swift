/// The atoms one distribution message names through its header's atom cache references: the
/// encoder writes such an atom as `ATOM_CACHE_REF` (tag 82) and its index in `atoms`, and the
/// header then gives the peer each one's cache slot, with its name only the first time
/// (`DistributionFrameEncoder` in ErlangDist). The BEAM sends every message so: the receiving
/// node looks an atom up by slot instead of hashing its name into its atom table, once per
/// atom per message.
public struct AtomCacheRefs: Sendable {
    /// The header's count is one byte; atoms past these are written by name.
    public static let limit = 255

    /// An atom listed, with a hash of its name (FNV-1a): the sender picks the atom's cache slot
    /// from it, and the list compares hashes before names.
    public struct Entry: Sendable {
        public let atom: Atom
        public let hash: UInt32

        init(atom: Atom, hash: UInt32) {
            self.atom = atom
            self.hash = hash
        }

        /// `atom`, its hash worked out.
        public init(_ atom: Atom) {
            var name = atom.name
            self.init(atom: atom, hash: name.withUTF8 { AtomCacheRefs.hash($0) })
        }
    }

    /// In the order of their first use, each once.
    public private(set) var entries: [Entry] = []

    public init() {}

    /// The index of `atom` (added when new), or nil when the list is full or the name is over
    /// 255 bytes (the header's lengths are then two bytes each; such atoms are written by
    /// name). `utf8` is the atom's name.
    mutating func index(of atom: Atom, utf8: UnsafeBufferPointer<UInt8>) -> UInt8? {
        guard utf8.count <= 255 else { return nil }
        let hash = Self.hash(utf8)
        // A message names a few atoms (an rpc request six): a scan, comparing hashes first.
        for (index, known) in entries.enumerated() where known.hash == hash && known.atom == atom {
            return UInt8(truncatingIfNeeded: index)
        }
        guard entries.count < Self.limit else { return nil }
        if entries.isEmpty { entries.reserveCapacity(8) }
        entries.append(Entry(atom: atom, hash: hash))
        return UInt8(truncatingIfNeeded: entries.count - 1)
    }

    /// FNV-1a of a name's bytes.
    @inline(__always)
    static func hash(_ utf8: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }
}
