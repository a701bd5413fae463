/// The atoms one distribution message names through its header's atom cache references: the
/// encoder writes such an atom as `ATOM_CACHE_REF` (tag 82) and its index in `atoms`, and the
/// header then gives the peer each one's cache slot, with its name only the first time
/// (`DistributionFrameEncoder` in ErlangDist). The BEAM sends every message so: the receiving
/// node looks an atom up by slot instead of hashing its name into its atom table, once per
/// atom per message.
public struct AtomCacheRefs: Sendable {
    /// The header's count is one byte; atoms past these are written by name.
    public static let limit = 255

    /// An atom listed, with a hash of its name (`hash(_:)`): the sender picks the atom's cache slot
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

    /// An empty list in `storage`'s room (see `EncodeBuffer.atomEntries`).
    init(reusing storage: [Entry]) {
        entries = storage
        entries.removeAll(keepingCapacity: true)
    }

    /// The list's room, emptied, for the next message.
    mutating func emptied() -> [Entry] {
        entries.removeAll(keepingCapacity: true)
        return entries
    }

    /// The index of `atom` (added when new), or nil when the list is full or the name is over
    /// 255 bytes (the header's lengths are then two bytes each; such atoms are written by
    /// name). `utf8` is the atom's name.
    mutating func index(of atom: Atom, utf8: UnsafeBufferPointer<UInt8>) -> UInt8? {
        guard utf8.count <= 255 else { return nil }
        let hash = Self.hash(utf8)
        // A message names a few atoms (an rpc request six): a scan, comparing hashes first,
        // in place (a copy of each entry retained and released its atom).
        let found = entries.withUnsafeBufferPointer { known -> Int? in
            for index in known.indices where known[index].hash == hash && known[index].atom == atom { return index }
            return nil
        }
        if let found { return UInt8(truncatingIfNeeded: found) }
        guard entries.count < Self.limit else { return nil }
        entries.append(Entry(atom: atom, hash: hash))
        return UInt8(truncatingIfNeeded: entries.count - 1)
    }

    /// A hash of a name from its length and its first and last eight bytes: a few instructions
    /// whatever the length (a loop over the bytes cost more than the rest of the list). Names
    /// alike in those and different between them share a hash, and so a cache slot, where
    /// they replace each other: slower, never wrong.
    @inline(__always)
    static func hash(_ utf8: UnsafeBufferPointer<UInt8>) -> UInt32 {
        let count = utf8.count
        var head: UInt64 = 0, tail: UInt64 = 0
        if count >= 8 {
            let raw = UnsafeRawBufferPointer(utf8)
            head = raw.loadUnaligned(as: UInt64.self)
            tail = raw.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        } else {
            for byte in utf8 { head = head << 8 | UInt64(byte) }
        }
        var mixed = (head &* 0x9E37_79B9_7F4A_7C15) ^ (tail &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(count)
        mixed ^= mixed >> 29
        mixed &*= 0xBF58_476D_1CE4_E5B9
        mixed ^= mixed >> 32
        return UInt32(truncatingIfNeeded: mixed)
    }
}
