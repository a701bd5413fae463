/// Where each metric id is in a `NodeBlock`'s or a `NodeSeries`' arrays: an open-addressing
/// table of `Int` keys with a multiplicative hash. A chunk looks its ~125 series up once per
/// collection and once per stored row merged: `Dictionary`'s SipHash cost ~100 instructions a
/// lookup there, this a few; and it takes 12 bytes a slot where `[Int: Int]` took 16. Pure.
struct MetricPositions: Sendable {
    /// The metric id of each entry (`empty` where none) and its position.
    private var keys: [Int] = []
    private var positions: [Int32] = []
    private(set) var count = 0

    private static let empty = Int.min

    /// Room for `capacity` entries without growing.
    init(capacity: Int = 0) {
        if capacity > 0 { allocate(Self.tableSize(for: capacity)) }
    }

    /// The position of `metric`, or nil.
    @inline(__always)
    func position(of metric: Int) -> Int? {
        guard !keys.isEmpty else { return nil }
        let mask = keys.count - 1
        var index = Self.hash(metric) & mask
        while true {
            let key = keys[index]
            if key == metric { return Int(positions[index]) }
            if key == Self.empty { return nil }
            index = (index + 1) & mask
        }
    }

    /// Records `metric` at `position` (a metric not yet recorded; `Int.min` is not an id).
    mutating func insert(_ metric: Int, at position: Int) {
        precondition(metric != Self.empty && position <= Int(Int32.max))
        if 4 * (count + 1) > 3 * keys.count { grow() }
        let mask = keys.count - 1
        var index = Self.hash(metric) & mask
        while keys[index] != Self.empty { index = (index + 1) & mask }
        keys[index] = metric
        positions[index] = Int32(position)
        count += 1
    }

    /// Fibonacci hashing: the high bits of the id times 2^64 / φ, which spreads the store's
    /// consecutive ids (and any other pattern) over the table.
    @inline(__always)
    private static func hash(_ metric: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: Int64(metric)) &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }

    /// The smallest power of two, at least 16, that holds `count` entries three quarters full.
    private static func tableSize(for count: Int) -> Int {
        var size = 16
        while 3 * size < 4 * count { size *= 2 }
        return size
    }

    private mutating func allocate(_ size: Int) {
        keys = [Int](repeating: Self.empty, count: size)
        positions = [Int32](repeating: 0, count: size)
        count = 0
    }

    private mutating func grow() {
        let (oldKeys, oldPositions) = (keys, positions)
        allocate(max(16, 2 * oldKeys.count))
        for (key, position) in zip(oldKeys, oldPositions) where key != Self.empty { insert(key, at: Int(position)) }
    }
}
