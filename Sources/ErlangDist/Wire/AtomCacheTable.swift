import ErlangTerm

/// A connection's atom cache: the atoms a peer has put in slots `0..<2048` through
/// `NewCacheEntryFlag` header entries, looked up once per atom cache reference of every frame.
///
/// Sparse, like a dictionary (a peer fills only the slots of the atoms it sends, and 2048
/// optional atoms would be 32 KiB per connection), but without `Hasher`: the BEAM already
/// picks a slot from the atom's hash, so the slot's low bits index an open-addressing table
/// directly. `Dictionary<UInt16, Atom>` spent ~120 instructions a reference hashing the key
/// with SipHash: 16,000 of the ~1 million a metric collection costs the server.
struct AtomCacheTable {
    /// The slot number of each entry, `empty` where none.
    private var keys: [UInt16]
    private var atoms: [Atom?]
    private(set) var count = 0

    private static let empty = UInt16.max
    static let slotCount = 2048

    init() {
        keys = []
        atoms = []
    }

    subscript(slot: UInt16) -> Atom? {
        get {
            guard !keys.isEmpty else { return nil }
            let mask = keys.count - 1
            var index = Int(slot) & mask
            while true {
                let key = keys[index]
                if key == slot { return atoms[index] }
                if key == Self.empty { return nil }
                index = (index + 1) & mask
            }
        }
        set {
            precondition(Int(slot) < Self.slotCount, "atom cache slot \(slot) out of range")
            // A peer only ever replaces an entry, never clears one.
            guard let newValue else { return }
            if 4 * (count + 1) > 3 * keys.count { grow() }
            let mask = keys.count - 1
            var index = Int(slot) & mask
            while keys[index] != Self.empty && keys[index] != slot { index = (index + 1) & mask }
            if keys[index] == Self.empty {
                keys[index] = slot
                count += 1
            }
            atoms[index] = newValue
        }
    }

    /// Whether `slot` holds `atom` (without copying the entry out).
    func holds(_ atom: Atom, at slot: UInt16) -> Bool {
        guard !keys.isEmpty else { return false }
        let mask = keys.count - 1
        var index = Int(slot) & mask
        while true {
            let key = keys[index]
            if key == slot {
                return atoms.withUnsafeBufferPointer { stored in
                    // The same string's bits (a sender mostly sends the same atoms): read
                    // without copying the entry out, which retained and released it.
                    if MemoryLayout<Atom?>.size == MemoryLayout<(UInt, UInt)>.size,
                       UnsafeRawPointer(stored.baseAddress! + index).load(as: (UInt, UInt).self) == unsafeBitCast(atom.name, to: (UInt, UInt).self) {
                        return true
                    }
                    return stored[index] == atom
                }
            }
            if key == Self.empty { return false }
            index = (index + 1) & mask
        }
    }

    /// Doubles the table (at most three quarters full, as `Dictionary` keeps its buckets), from
    /// 16 entries.
    private mutating func grow() {
        let (oldKeys, oldAtoms) = (keys, atoms)
        let capacity = max(16, 2 * keys.count)
        keys = [UInt16](repeating: Self.empty, count: capacity)
        atoms = [Atom?](repeating: nil, count: capacity)
        count = 0
        for (key, atom) in zip(oldKeys, oldAtoms) where key != Self.empty {
            self[key] = atom
        }
    }
}
