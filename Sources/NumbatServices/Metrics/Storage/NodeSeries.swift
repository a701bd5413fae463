/// The in-memory state of one node's metric history: the blocks being filled in every tier,
/// and the roll-up buckets being accumulated. Pure: the `MetricArchive` shell loads and stores
/// blocks; this only decides what goes where.
///
/// Every roll-up tier is computed from the raw points directly (not from the tier below), so
/// each tier's average, minimum and maximum are exact.
struct NodeSeries: Sendable {
    struct BlockKey: Hashable, Sendable {
        var tier: Int
        var start: Int64
    }

    /// A roll-up bucket being accumulated.
    struct Bucket: Sendable, Equatable {
        var start: Int64
        var sum: Double = 0
        var count = 0
        var minimum = Double.infinity
        var maximum = -Double.infinity

        mutating func add(_ value: Double) {
            sum += value
            count += 1
            minimum = Swift.min(minimum, value)
            maximum = Swift.max(maximum, value)
        }

        var values: [Double] { [sum / Double(count), minimum, maximum] }
    }

    let schedule: RetentionSchedule
    private(set) var blocks: [BlockKey: NodeBlock] = [:]
    private(set) var dirty: Set<BlockKey> = []
    /// Per roll-up tier (index 0 unused), per metric id.
    private var buckets: [[Int: Bucket]]

    init(schedule: RetentionSchedule) {
        self.schedule = schedule
        buckets = Array(repeating: [:], count: schedule.tiers.count)
    }

    /// Takes in one collection: raw points, and into every roll-up tier's buckets. A point not
    /// after a metric's previous raw point is dropped (and so not counted twice in roll-ups).
    mutating func ingest(time: Int64, values: [(metric: Int, value: Double)]) {
        for (metric, value) in values where value.isFinite {
            guard append(tier: 0, metric: metric, time: time, values: [value]) else { continue }
            accumulate(metric: metric, time: time, value: value)
        }
    }

    /// Adds a stored raw point to the roll-up buckets only (replay after a restart).
    mutating func replay(metric: Int, time: Int64, value: Double) {
        accumulate(metric: metric, time: time, value: value)
    }

    private mutating func accumulate(metric: Int, time: Int64, value: Double) {
        for tier in 1..<schedule.tiers.count {
            let start = schedule.bucketStart(tier: tier, time: time)
            var bucket = buckets[tier][metric] ?? Bucket(start: start)
            if bucket.start < start {
                emit(tier: tier, metric: metric, bucket: bucket)
                bucket = Bucket(start: start)
            } else if bucket.start > start {
                continue  // a late point for a bucket already closed
            }
            bucket.add(value)
            buckets[tier][metric] = bucket
        }
    }

    /// Emits every bucket that has ended by `now` (ms), so roll-ups appear on time even when a
    /// node stops reporting.
    mutating func closeBuckets(now: Int64) {
        for tier in 1..<schedule.tiers.count {
            let length = Int64(schedule.tiers[tier].resolutionSeconds) * 1000
            for (metric, bucket) in buckets[tier] where bucket.start + length <= now {
                emit(tier: tier, metric: metric, bucket: bucket)
                buckets[tier][metric] = nil
            }
        }
    }

    private mutating func emit(tier: Int, metric: Int, bucket: Bucket) {
        guard bucket.count > 0 else { return }
        append(tier: tier, metric: metric, time: bucket.start, values: bucket.values)
    }

    @discardableResult
    private mutating func append(tier: Int, metric: Int, time: Int64, values: [Double]) -> Bool {
        let start = schedule.blockStart(tier: tier, time: time)
        let key = BlockKey(tier: tier, start: start)
        var block = blocks[key] ?? NodeBlock(start: start, end: start + schedule.blockSpan(tier: tier), width: tier == 0 ? 1 : 3)
        guard block.append(metric: metric, time: time, values: values) else { return false }
        blocks[key] = block
        dirty.insert(key)
        return true
    }

    /// Puts a stored block back in memory (after a restart), to be appended to.
    mutating func load(_ block: NodeBlock, tier: Int) {
        let key = BlockKey(tier: tier, start: block.start)
        if blocks[key] == nil { blocks[key] = block }
    }

    /// The blocks changed since the last call, to be written.
    mutating func takeDirty() -> [(key: BlockKey, block: NodeBlock)] {
        defer { dirty.removeAll(keepingCapacity: true) }
        return dirty.compactMap { key in blocks[key].map { (key, $0) } }
    }

    /// Marks a block to be written again (its last write failed).
    mutating func markDirty(_ key: BlockKey) {
        if blocks[key] != nil { dirty.insert(key) }
    }

    /// Drops from memory the written blocks that can no longer change: those ending before the
    /// current bucket of their tier began (raw: before `now`).
    mutating func evict(now: Int64) {
        for (key, block) in blocks where !dirty.contains(key) {
            let resolution = Int64(schedule.tiers[key.tier].resolutionSeconds) * 1000
            if block.end + resolution <= now { blocks[key] = nil }
        }
    }

    /// The earliest time whose raw points a restart must replay into the buckets: the start of
    /// the previous bucket of the coarsest tier, so no bucket open at shutdown is lost.
    static func replayStart(schedule: RetentionSchedule, now: Int64) -> Int64 {
        guard schedule.tiers.count > 1 else { return now }
        let coarsest = schedule.tiers.count - 1
        let length = Int64(schedule.tiers[coarsest].resolutionSeconds) * 1000
        return schedule.bucketStart(tier: coarsest, time: now) - length
    }
}
