/// The in-memory state of one node's metric history: the points not yet written (as they
/// came, then as the chunks a flush took), the time of each series' last raw point, the
/// roll-up buckets being accumulated, and which stored blocks still consist of chunks. Pure: the `MetricArchive`
/// shell reads and writes the store; this only decides what goes where.
///
/// Writes are append-only: every flush writes the new points as a small chunk row of their
/// block, and a block whose time is over is compacted once into one row. So a collection costs
/// the same whether its block is empty or nearly full.
///
/// Every roll-up tier is computed from the raw points directly (not from the tier below), so
/// each tier's average, minimum and maximum are exact.
struct NodeSeries: Sendable {
    struct BlockKey: Hashable, Sendable {
        var tier: Int
        var start: Int64
    }

    /// A roll-up bucket being accumulated, or, while it holds nothing (`count` 0), the first
    /// bucket a point may still open: its `index` is then a floor, past every bucket already
    /// emitted or found in the store at a restart. So the bucket keeps what a time of the last
    /// roll-up point per series kept (2 KB per node at ~125 metrics in two roll-up tiers).
    ///
    /// 32 bytes: its start is kept as a number of bucket lengths since 1970 and its count in 32
    /// bits (a node holds one per metric in each roll-up tier: 40 bytes each had taken 10 KB per
    /// node; docs/benchmarks.md). Lengths are whole seconds, so the number lasts past 2100;
    /// times outside 1970-2106 are clamped to its ends (the server's clock makes the times).
    struct Bucket: Sendable, Equatable {
        /// The start divided by the length; in a bucket that holds nothing (`count` 0), the
        /// first bucket a point may open.
        var index: UInt32 = 0
        var count: UInt32 = 0
        var sum: Double = 0
        var minimum = Double.infinity
        var maximum = -Double.infinity

        init() {}

        /// An empty bucket starting at `start` (ms), a multiple of `length` (ms).
        init(start: Int64, length: Int64) {
            index = Self.index(start, length: length)
        }

        /// An empty bucket of number `floor`: no point of an earlier bucket is taken any more.
        init(floor: UInt32) {
            index = floor
        }

        /// The number of the bucket after `index` (the last, in 2106, has none after it).
        static func after(_ index: UInt32) -> UInt32 { index == .max ? index : index + 1 }

        /// The number of the bucket of `length` (ms) that holds `time` (ms).
        static func index(_ time: Int64, length: Int64) -> UInt32 {
            UInt32(clamping: floorDivide(time, length))
        }

        /// Its start (ms), given its length.
        func start(length: Int64) -> Int64 { Int64(index) * length }

        mutating func add(_ value: Double) {
            sum += value
            count += 1
            minimum = Swift.min(minimum, value)
            maximum = Swift.max(maximum, value)
        }

        /// As stored: sum, minimum, maximum, count. The sum rather than the average, so a
        /// bucket of integers is stored as integers (cheap delta-of-delta, not XOR floats);
        /// the average is `sum / count` when read.
        var stored: [Double] { [sum, minimum, maximum, Double(count)] }

        var average: Double { sum / Double(count) }

        /// Adds a stored roll-up point (for coarser buckets of roll-ups).
        mutating func add(stored values: [Double]) {
            sum += values[0]
            minimum = Swift.min(minimum, values[1])
            maximum = Swift.max(maximum, values[2])
            count = UInt32(clamping: Int64(count) + Int64(values[3]))
        }
    }

    /// A stored block that has chunk rows: its end, the next chunk's number, and the chunk
    /// rows written since this server holds the node, oldest first.
    struct Chunked: Sendable, Equatable {
        var end: Int64
        var nextSequence: Int
        /// Rows restored from the store are not listed (their levels are not stored): they stay
        /// as they are until the block is compacted whole.
        var rows: [ChunkRow] = []
    }

    /// A chunk row: its number, and its level (0: one flush's points; level n + 1: `fanOut`
    /// rows of level n merged).
    struct ChunkRow: Sendable, Equatable {
        var sequence: Int
        var level: Int
    }

    /// What compaction does to a stored block made of chunks.
    enum Compaction: Sendable, Equatable {
        /// The block's time is over: every row into one (sequence 0).
        case whole
        /// The newest `fanOut` rows, all of `level`, into one row of `level + 1` numbered
        /// `first` (replacing `first ... last`).
        case merge(first: Int, last: Int, level: Int)
    }

    /// Points as a chunk row: the bytes the store keeps, encoded as soon as a flush takes the
    /// points (so a flush holds a few hundred bytes per node rather than the chunk's series
    /// encoders, about 25 KB for a node's ~125 raw series), and read by queries as a stored row
    /// while the write is under way.
    struct Chunk: Sendable {
        var key: BlockKey
        /// Its chunk number; 0 for points still pending (`unstored`).
        var sequence: Int
        var data: [UInt8]
        /// The block's end, its points, and its earliest point's time.
        var end: Int64
        var points: Int
        var earliest: Int64
    }

    /// A collection's raw points not yet written: the points of `numbers` whose `slots` are
    /// not -1. The collection's own arrays when every point was taken (the slots shared by
    /// every collection of its layout), so a point waiting for the flush costs nothing more.
    struct RawCollection: Sendable {
        var time: Int64
        var slots: [Int]
        var numbers: [Double]
    }

    /// A roll-up point not yet written.
    struct RollUpPoint: Sendable {
        var tier: Int32
        var slot: Int32
        var bucket: Bucket
    }

    let schedule: RetentionSchedule
    /// Raw points and roll-up points not yet written, in the order they were taken. Kept as
    /// they came and made into blocks only when a flush takes them (`takePending`): at a
    /// thousand nodes collected within a second, each node's raw block of series encoders
    /// waiting for the flush took 25 KB (25 MB at once), and malloc kept the room afterwards.
    private var pendingRaw: [RawCollection] = []
    private var pendingRollUps: [RollUpPoint] = []
    /// Raw points of collections past `foldAfter` still waiting (a store slow to write, as the
    /// flushes wait for each other), folded into blocks: about two bytes a point there, where
    /// a collection's numbers take eight.
    private var foldedRaw: [BlockKey: NodeBlock] = [:]
    static let foldAfter = 8
    /// Each metric's slot in the arrays below: one hash per metric per collection, and a
    /// node's state in a few flat arrays rather than a dictionary per tier (a node's ~125
    /// metrics in five dictionaries took 31 KB per node; docs/benchmarks.md).
    private var slots = MetricPositions()
    /// The metric id of each slot.
    private var metricIDs: [Int] = []
    /// The slots in metric id order, shared with every node of the same mapping
    /// (`SharedSlotMappings`); stale once a slot is added (its count then falls short).
    private var idOrder: [Int] = []
    /// Per slot: the time of the last raw point taken (written or pending); `.min` when none.
    /// The roll-up tiers need no such time: their buckets' indexes only grow (see `Bucket`).
    private var lastRawTimes: [Int64] = []
    /// Per roll-up tier (index 0 unused), per slot: the bucket being accumulated, or the floor
    /// of the next one (`count` 0).
    private var buckets: [[Bucket]]
    /// Per tier (index 0 unused): the bucket length in milliseconds.
    private let bucketLengths: [Int64]
    /// Stored blocks made of chunks, to be compacted when their time is over.
    private(set) var chunked: [BlockKey: Chunked] = [:]
    /// Chunks taken for writing whose write failed.
    private var unwritten: [Chunk] = []
    /// Chunks taken by the flush under way, until their write commits (`written`) or fails
    /// (`retry`): answered from here meanwhile, or a query between the two would find a point
    /// neither in memory nor in the store (found by the kill campaign, docs/reliability.md).
    private var writing: [Chunk] = []
    /// The newest raw point taken in or restored (any metric); `.min` when none.
    private var newestRaw: Int64 = .min
    /// The last collection's names and each one's slot: the next collection with the same
    /// layout (the agent's every one) takes its points in without hashing a name or an id.
    private var layoutSlots: (layout: MetricValues.Layout, slots: [Int])?

    init(schedule: RetentionSchedule) {
        self.schedule = schedule
        buckets = Array(repeating: [], count: schedule.tiers.count)
        bucketLengths = schedule.tiers.map { Int64($0.resolutionSeconds) * 1000 }
    }

    /// The slot of `metric`, made on its first point.
    private mutating func slot(of metric: Int) -> Int {
        if let slot = slots.position(of: metric) { return slot }
        let slot = metricIDs.count
        slots.insert(metric, at: slot)
        metricIDs.append(metric)
        lastRawTimes.append(.min)
        for tier in buckets.indices.dropFirst() { buckets[tier].append(Bucket()) }
        return slot
    }

    /// Columns per point: the raw value; or a roll-up's sum, minimum, maximum and count.
    static func width(tier: Int) -> Int { tier == 0 ? 1 : 4 }

    /// Takes in one collection: raw points, and into every roll-up tier's buckets. A point not
    /// after a metric's previous raw point is dropped (and so not counted twice in roll-ups).
    mutating func ingest(time: Int64, values: [(metric: Int, value: Double)]) {
        var slots: [Int] = []
        slots.reserveCapacity(values.count)
        for (metric, _) in values { slots.append(slot(of: metric)) }
        ingest(time: time, slots: slots, numbers: values.map(\.value))
    }

    /// Takes in one collection by name, `metricID` numbering each name: answers the names it
    /// has no number for, taking nothing in unless `partly` (then the others). A collection
    /// with the previous one's layout skips the names.
    mutating func ingest(time: Int64, values: MetricValues, partly: Bool, metricID: (String) -> Int?) -> [String] {
        if let cached = layoutSlots, cached.layout === values.layout {
            ingest(time: time, slots: cached.slots, numbers: values.numbers)
            return []
        }
        var slots: [Int] = []
        slots.reserveCapacity(values.count)
        var unknown: [String] = []
        for name in values.names {
            if let id = metricID(name) { slots.append(slot(of: id)) } else { slots.append(-1); unknown.append(name) }
        }
        if !unknown.isEmpty, !partly { return unknown }
        if unknown.isEmpty {
            layoutSlots = (values.layout, IdentitySlots.shared(slots))
            let shared = SharedSlotMappings.shared(metricIDs, self.slots)
            (metricIDs, self.slots, idOrder) = (shared.metricIDs, shared.slots, shared.idOrder ?? [])
        }
        ingest(time: time, slots: slots, numbers: values.numbers)
        return unknown
    }

    /// `numbers[i]` into slot `slots[i]` (none when -1): a point is taken when finite and
    /// after its series' last. The points taken wait for the flush as they are (see
    /// `pendingRaw`); the roll-up buckets then take them one tier at a time (`accumulate`).
    private mutating func ingest(time: Int64, slots: [Int], numbers: [Double]) {
        // The points taken, as indexes into `slots` and `numbers`.
        var taken: [Int32] = []
        taken.reserveCapacity(numbers.count)
        for (index, (slot, value)) in zip(slots, numbers).enumerated() where slot >= 0 && value.isFinite && time > lastRawTimes[slot] {
            lastRawTimes[slot] = time
            taken.append(Int32(truncatingIfNeeded: index))
        }
        guard !taken.isEmpty else { return }
        if taken.count == slots.count, slots.count == numbers.count {
            pendingRaw.append(RawCollection(time: time, slots: slots, numbers: numbers))
        } else {
            pendingRaw.append(RawCollection(time: time, slots: taken.map { slots[Int($0)] }, numbers: taken.map { numbers[Int($0)] }))
        }
        if pendingRaw.count > Self.foldAfter { foldPendingRaw() }
        if time > newestRaw { newestRaw = time }
        accumulate(time: time) { body in
            for index in taken { body(slots[Int(index)], numbers[Int(index)]) }
        }
    }

    /// Moves the waiting collections into `foldedRaw`'s blocks.
    private mutating func foldPendingRaw() {
        for key in pendingRawKeys() { foldedRaw[key] = rawBlock(key) }
        pendingRaw.removeAll()
    }

    /// After a restart: a stored point, so later points and roll-ups continue after it. A
    /// roll-up point raises its bucket's floor past it: the bucket being replayed into is
    /// dropped if the store has it already.
    mutating func restore(tier: Int, metric: Int, time: Int64, value: Double, replayFrom: Int64) {
        let slot = slot(of: metric)
        guard tier == 0 else {
            let stored = Bucket.index(time, length: bucketLengths[tier])
            if buckets[tier][slot].index <= stored { buckets[tier][slot] = Bucket(floor: Bucket.after(stored)) }
            return
        }
        if time > lastRawTimes[slot] { lastRawTimes[slot] = time }
        if time > newestRaw { newestRaw = time }
        if time >= replayFrom { accumulate(time: time) { body in body(slot, value) } }
    }

    /// After a restart: a stored block that still has chunk rows.
    mutating func restoreChunked(_ key: BlockKey, end: Int64, lastSequence: Int) {
        let next = max(chunked[key]?.nextSequence ?? 1, lastSequence + 1)
        chunked[key] = Chunked(end: end, nextSequence: next)
    }

    /// Adds the points `points` hands over (slot, value), all at `time`, to each roll-up
    /// tier's buckets: the bucket index computed once per tier, not once per point, and each
    /// tier's buckets walked in place. A point before its bucket's index (a late point for a
    /// bucket already emitted or stored) is left out; a point past it emits the bucket.
    private mutating func accumulate(time: Int64, _ points: ((Int, Double) -> Void) -> Void) {
        for tier in buckets.indices.dropFirst() {
            let index = Bucket.index(time, length: bucketLengths[tier])
            var ended: [(slot: Int, bucket: Bucket)] = []
            buckets[tier].withUnsafeMutableBufferPointer { buckets in
                points { slot, value in
                    let bucket = buckets[slot]
                    guard index >= bucket.index else { return }
                    if index > bucket.index || bucket.count == 0 {
                        if bucket.count > 0 { ended.append((slot, bucket)) }
                        buckets[slot] = Bucket(floor: index)
                    }
                    buckets[slot].add(value)
                }
            }
            for (slot, bucket) in ended { emit(tier: tier, slot: slot, bucket: bucket) }
        }
    }

    /// Emits every bucket that has ended by `now` (ms), so roll-ups appear on time even when a
    /// node stops reporting. The next bucket of its series starts after it.
    ///
    /// Runs at every flush for every node, mostly to find nothing ended: a bucket has ended when
    /// its number is below that of the bucket holding `now` (its end, `(index + 1) * length`,
    /// then at or before `now`), one comparison per series over the buckets in place.
    mutating func closeBuckets(now: Int64) {
        for tier in buckets.indices.dropFirst() {
            let current = Bucket.index(now, length: bucketLengths[tier])
            var ended: [(slot: Int, bucket: Bucket)] = []
            buckets[tier].withUnsafeMutableBufferPointer { buckets in
                for slot in buckets.indices where buckets[slot].index < current && buckets[slot].count > 0 {
                    ended.append((slot, buckets[slot]))
                    buckets[slot] = Bucket(floor: Bucket.after(buckets[slot].index))
                }
            }
            for (slot, bucket) in ended { emit(tier: tier, slot: slot, bucket: bucket) }
        }
    }

    /// A bucket's point, to wait for the flush. Its series' points stay in time order: a
    /// bucket is emitted only past the ones before it (its index above their floors).
    private mutating func emit(tier: Int, slot: Int, bucket: Bucket) {
        guard bucket.count > 0 else { return }
        pendingRollUps.append(RollUpPoint(tier: Int32(tier), slot: Int32(slot), bucket: bucket))
    }

    /// The block a pending point of `tier` at `time` belongs to.
    private func key(tier: Int, time: Int64) -> BlockKey {
        BlockKey(tier: tier, start: schedule.blockStart(tier: tier, time: time))
    }

    /// Whether points of `key`'s block wait for a flush.
    private func isPending(_ key: BlockKey) -> Bool {
        if key.tier == 0 { return foldedRaw[key] != nil || pendingRaw.contains { self.key(tier: 0, time: $0.time) == key } }
        let length = bucketLengths[key.tier]
        return pendingRollUps.contains { Int($0.tier) == key.tier && self.key(tier: key.tier, time: $0.bucket.start(length: length)) == key }
    }

    /// The blocks of the raw points waiting: nearly always one (two at the turn of an hour).
    private func pendingRawKeys() -> [BlockKey] {
        var keys = foldedRaw.keys.sorted { $0.start < $1.start }
        for collection in pendingRaw where !keys.contains(key(tier: 0, time: collection.time)) { keys.append(key(tier: 0, time: collection.time)) }
        return keys
    }

    /// The raw points waiting in `key`'s block, as a block: those folded, then the
    /// collections in the order taken, so each series' points come in time order (`ingest`
    /// took only points after their series' last).
    private func rawBlock(_ key: BlockKey) -> NodeBlock {
        var block = foldedRaw[key] ?? NodeBlock(start: key.start, end: key.start + schedule.blockSpan(tier: 0), width: 1, capacity: metricIDs.count)
        for collection in pendingRaw where self.key(tier: 0, time: collection.time) == key {
            for (slot, value) in zip(collection.slots, collection.numbers) {
                block.append(metric: metricIDs[slot], time: collection.time, values: CollectionOfOne(value))
            }
        }
        return block
    }

    private func forEachRollUpBlock(_ body: (BlockKey, NodeBlock) -> Void) {
        guard !pendingRollUps.isEmpty else { return }
        var blocks: [BlockKey: NodeBlock] = [:]
        // Read out once: the default's closure below named `self`, and so copied the whole
        // series (and released the copy) for every point.
        let (schedule, capacity) = (self.schedule, metricIDs.count)
        for point in pendingRollUps {
            let tier = Int(point.tier)
            let time = point.bucket.start(length: bucketLengths[tier])
            let key = key(tier: tier, time: time)
            blocks[key, default: NodeBlock(start: key.start, end: key.start + schedule.blockSpan(tier: tier), width: Self.width(tier: tier), capacity: capacity)]
                .append(metric: metricIDs[Int(point.slot)], time: time, values: point.bucket.stored)
        }
        for (key, block) in blocks { body(key, block) }
    }

    /// The points waiting, as chunks (numbered 0) of the blocks of `tier` (every tier when
    /// nil) that overlap `from ..< to`, each encoded in turn. Raw points as they came make a
    /// chunk of one collection each (`NodeBlock.encodedRaw`), also when a flush finds two or
    /// three of a node's collections waiting (as one block, their ~125 series encoders made
    /// and freed took 150,000 instructions, fifteen times a chunk's); folded ones, a block.
    private func pendingChunks(tier: Int? = nil, from: Int64 = .min, to: Int64 = .max) -> [Chunk] {
        func wanted(_ key: BlockKey, end: Int64) -> Bool { (tier == nil || tier == key.tier) && end > from && key.start < to }
        var chunks: [Chunk] = []
        for key in pendingRawKeys() {
            let end = key.start + schedule.blockSpan(tier: 0)
            guard wanted(key, end: end) else { continue }
            if foldedRaw[key] == nil {
                for collection in pendingRaw where self.key(tier: 0, time: collection.time) == key {
                    let data: [UInt8]
                    if idOrder.count == metricIDs.count, collection.slots.count == metricIDs.count, IdentitySlots.isIdentity(collection.slots) {
                        // Every slot, in slot order (most nodes' every collection): the ids are
                        // the slots' own, already in id order.
                        data = NodeBlock.encodedRaw(start: key.start, time: collection.time, metrics: metricIDs, values: collection.numbers, order: idOrder)
                    } else {
                        data = NodeBlock.encodedRaw(start: key.start, time: collection.time, metrics: collection.slots.map { metricIDs[$0] }, values: collection.numbers)
                    }
                    chunks.append(Chunk(key: key, sequence: 0, data: data, end: end, points: collection.numbers.count, earliest: collection.time))
                }
            } else {
                let block = rawBlock(key)
                chunks.append(Chunk(key: key, sequence: 0, data: block.encoded(), end: end, points: block.pointCount, earliest: block.earliest))
            }
        }
        guard tier != 0 else { return chunks }
        forEachRollUpBlock { key, block in
            guard wanted(key, end: block.end) else { return }
            chunks.append(Chunk(key: key, sequence: 0, data: block.encoded(), end: block.end, points: block.pointCount, earliest: block.earliest))
        }
        return chunks
    }

    /// The chunks to write, each with its chunk number (a chunk whose write failed keeps its
    /// number, so writing it again replaces nothing else); they are no longer pending.
    mutating func takePending() -> [Chunk] {
        var taken = unwritten
        unwritten.removeAll()
        for var chunk in pendingChunks() {
            var entry = chunked[chunk.key] ?? Chunked(end: chunk.end, nextSequence: 1)
            chunk.sequence = entry.nextSequence
            taken.append(chunk)
            entry.rows.append(ChunkRow(sequence: entry.nextSequence, level: 0))
            entry.nextSequence += 1
            chunked[chunk.key] = entry
        }
        // Not keeping their room: at the turn of a roll-up bucket every series has a point waiting.
        pendingRaw.removeAll()
        pendingRollUps.removeAll()
        foldedRaw.removeAll()
        writing = taken
        return taken
    }

    /// The chunks taken by `takePending` are in the store.
    mutating func written() {
        writing.removeAll()
    }

    /// Chunks whose write failed, for the next flush.
    mutating func retry(_ chunks: [Chunk]) {
        writing.removeAll()
        unwritten += chunks
    }

    /// Every point not known to be in the store, in the blocks of `tier` (every tier when nil)
    /// that overlap `from ..< to`: the chunks being written or whose write failed, in chunk
    /// order, then the pending points, encoded as chunks.
    func unstored(tier: Int? = nil, from: Int64 = .min, to: Int64 = .max) -> [Chunk] {
        (writing + unwritten).sorted { $0.sequence < $1.sequence }
            .filter { (tier == nil || tier == $0.key.tier) && $0.end > from && $0.key.start < to }
            + pendingChunks(tier: tier, from: from, to: to)
    }

    /// Every raw point at or before this time (ms) is in the store, as of now: just before the
    /// earliest raw point not yet written (pending, being written, or whose write failed), or
    /// the newest raw point when all are written; nil before the first point. A crash loses
    /// only points after it, which is what a client (the kill campaign) may count on.
    var writtenThrough: Int64? {
        let earliestUnwritten = (writing + unwritten).lazy.filter { $0.key.tier == 0 }.map(\.earliest).min()
        let earliestPending = (pendingRaw.map(\.time) + foldedRaw.values.map(\.earliest)).min()
        if let earliest = [earliestUnwritten, earliestPending].compactMap({ $0 }).min(), earliest != .max { return earliest - 1 }
        return newestRaw == .min ? nil : newestRaw
    }

    /// What to compact now: each stored block whose time is over (no point can join it any
    /// more) whole; in a block still open, the newest `fanOut` rows of one level merged into
    /// one row of the next. So an open block has at most `fanOut - 1` rows per level (and a
    /// level per factor of `fanOut` in its chunks), and each point is rewritten once per
    /// level, not (as when every eighth chunk rewrote the whole block) once per eight chunks
    /// after it: at one-second collections a raw block of an hour was rewritten 450 times.
    /// Nothing is compacted while a chunk of it waits to be written again (a failed write);
    /// a whole compaction also waits for the block's pending points.
    func compactions(now: Int64) -> [(key: BlockKey, compaction: Compaction)] {
        chunked.compactMap { key, entry in
            let resolution = Int64(schedule.tiers[key.tier].resolutionSeconds) * 1000
            guard !unwritten.contains(where: { $0.key == key }), !writing.contains(where: { $0.key == key }) else { return nil }
            if entry.end + resolution <= now {
                return isPending(key) ? nil : (key, .whole)
            }
            // The newest run of `fanOut` rows of one level (a merge of the level below may have
            // just completed one, behind the chunk written since): one merge per flush.
            var end = entry.rows.endIndex
            while end > entry.rows.startIndex {
                let level = entry.rows[end - 1].level
                let start = entry.rows[..<end].lastIndex { $0.level != level }.map { $0 + 1 } ?? entry.rows.startIndex
                if end - start >= Self.fanOut {
                    let merged = entry.rows[start..<(start + Self.fanOut)]
                    return (key, .merge(first: merged.first!.sequence, last: merged.last!.sequence, level: level))
                }
                end = start
            }
            return nil
        }
    }

    /// A whole compaction is in the store.
    mutating func compacted(_ key: BlockKey) { chunked[key] = nil }

    /// A merge is in the store: its rows are one row of the next level.
    mutating func merged(_ key: BlockKey, first: Int, last: Int, level: Int) {
        guard var entry = chunked[key] else { return }
        entry.rows.removeAll { $0.sequence >= first && $0.sequence <= last }
        let index = entry.rows.firstIndex { $0.sequence > first } ?? entry.rows.endIndex
        entry.rows.insert(ChunkRow(sequence: first, level: level + 1), at: index)
        chunked[key] = entry
    }

    /// Rows of one level merged into one of the next. Merging a row costs mostly per series
    /// (its header, its decoder's set-up), little per point, and the rows of the first levels
    /// hold one or a few points per series: 16 rows per merge rather than 8 make a level fewer
    /// at one-second collections (16, 256, then the block's end, for an hour's 3,600 points;
    /// 8 took 8, 64, 512 and the end) for at most 15 rows per level to read in a query.
    static let fanOut = 16

    /// The earliest time whose raw points a restart must replay into the buckets: the start of
    /// the previous bucket of the coarsest tier, so no bucket open at shutdown is lost.
    static func replayStart(schedule: RetentionSchedule, now: Int64) -> Int64 {
        guard schedule.tiers.count > 1 else { return now }
        let coarsest = schedule.tiers.count - 1
        let length = Int64(schedule.tiers[coarsest].resolutionSeconds) * 1000
        return schedule.bucketStart(tier: coarsest, time: now) - length
    }
}
