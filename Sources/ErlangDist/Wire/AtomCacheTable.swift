import ErlangTerm

/// A connection's atom cache: what each of the slots `0..<2048` holds, as `NewCacheEntryFlag`
/// header entries put it there, looked up once per atom cache reference of every frame. `Value`
/// is the atom itself (the sender's copy of its peer's cache, `OutgoingAtomCache`) or an index
/// into the shared names (the receiver's, `DistributionFrameReceiver`).
///
/// Sparse, like a dictionary (a peer fills only the slots of the atoms it sends, and 2048
/// optional atoms would be 32 KiB per connection), but without `Hasher`: the BEAM already
/// picks a slot from the atom's hash, so the slot's low bits index an open-addressing table
/// directly. `Dictionary<UInt16, Atom>` spent ~120 instructions a reference hashing the key
/// with SipHash: 16,000 of the ~1 million a metric collection costs the server.
struct AtomCacheTable<Value> {
    /// The slot number of each entry, `empty` where none.
    private var keys: [UInt16] = []
    private var values: [Value] = []
    /// What an empty entry's value is (never read: `keys` tells which entries are filled).
    private let filler: Value
    private(set) var count = 0

    private static var empty: UInt16 { .max }

    init(filler: Value) {
        self.filler = filler
    }

    /// The entry of `slot`, if filled.
    @inline(__always)
    private func entry(of slot: UInt16) -> Int? {
        guard !keys.isEmpty else { return nil }
        let mask = keys.count - 1
        var index = Int(slot) & mask
        while true {
            let key = keys[index]
            if key == slot { return index }
            if key == Self.empty { return nil }
            index = (index + 1) & mask
        }
    }

    subscript(slot: UInt16) -> Value? {
        get { entry(of: slot).map { values[$0] } }
        set {
            precondition(Int(slot) < AtomCacheSlots.count, "atom cache slot \(slot) out of range")
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
            values[index] = newValue
        }
    }

    /// `body` on `slot`'s value in place (without copying it out), or nil when the slot is empty.
    @inline(__always)
    func withValue<Result>(at slot: UInt16, _ body: (UnsafePointer<Value>) -> Result) -> Result? {
        guard let index = entry(of: slot) else { return nil }
        return values.withUnsafeBufferPointer { body($0.baseAddress! + index) }
    }

    /// Doubles the table (at most three quarters full, as `Dictionary` keeps its buckets), from
    /// 16 entries.
    private mutating func grow() {
        let (oldKeys, oldValues) = (keys, values)
        let capacity = max(16, 2 * keys.count)
        keys = [UInt16](repeating: Self.empty, count: capacity)
        values = [Value](repeating: filler, count: capacity)
        count = 0
        for (key, value) in zip(oldKeys, oldValues) where key != Self.empty {
            self[key] = value
        }
    }
}

/// The atom cache's size, the same for every table.
enum AtomCacheSlots {
    static let count = 2048
}

extension AtomCacheTable where Value == Atom {
    /// A table of atoms.
    init() {
        self.init(filler: Atom(""))
    }

    /// Whether `slot` holds `atom` (without copying the entry out).
    func holds(_ atom: Atom, at slot: UInt16) -> Bool {
        withValue(at: slot) { stored in
            // The same string's bits (a sender mostly sends the same atoms): read without
            // copying the entry out, which retained and released it.
            if MemoryLayout<Atom>.size == MemoryLayout<(UInt, UInt)>.size,
               UnsafeRawPointer(stored).load(as: (UInt, UInt).self) == unsafeBitCast(atom.name, to: (UInt, UInt).self) {
                return true
            }
            return stored.pointee == atom
        } ?? false
    }
}

extension AtomCacheTable: Sendable where Value: Sendable {}
