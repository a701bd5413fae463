import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// The metric history: takes in every collection, keeps each node's open blocks in memory
/// (`NodeSeries`), writes new points to the store `flushInterval` after they came (one
/// transaction per `flushBatchSize` nodes), deletes what is past retention, and answers series
/// queries. The I/O shell around the pure `NodeSeries` and `NodeBlock`.
///
/// A crash loses at most the last `flushInterval` of points; a restart reloads the open blocks
/// and replays the raw points of the roll-up buckets that were still open.
public final class MetricArchive: Sendable {
    public struct Settings: Sendable {
        public var schedule = RetentionSchedule.standard
        /// How long new points wait to be written, at most (a crash loses them).
        public var flushInterval: Duration = .seconds(1)
        /// The longest the flush loop sleeps while no points come: roll-up buckets of nodes
        /// that stopped reporting closed and written, blocks whose time is over compacted,
        /// retention applied. (Queries close ended buckets themselves, so they see them
        /// before.)
        public var idleFlushInterval: Duration = .seconds(30)
        public var pruneInterval: Duration = .seconds(60)
        /// Nodes whose new points one flush encodes and writes per transaction, and whose
        /// blocks it compacts per transaction. Every node's roll-up buckets end at the same
        /// moment (they are aligned to the epoch) and every node's raw block at the same hour,
        /// so at those moments every node has something to write: taken all at once, the
        /// encoded rows (and the compactions' blocks) would make a spike of tens of megabytes
        /// at 10,000 nodes, which the allocator keeps afterwards.
        public var flushBatchSize = 250
        /// Nodes restored per store query at start, and how many such batches run at once:
        /// a query per node (four, one per tier and one for the chunks) made the start of a
        /// server with thousands of nodes wait minutes before it listened.
        public var restoreBatchSize = 100
        public var restoreParallelism = 4
        public init() {}
    }

    let store: any MetricBlockStore
    let settings: Settings
    let now: @Sendable () -> Date
    let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// The last flush started; each flush waits for the one before.
    private let flushChain = NIOLockedValueBox<Task<Bool, any Error>?>(nil)
    /// The flush loop's sleep while it waits for points, ended by the first ingested.
    private let idleSleep = LoopSleep()
    private let loop = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let restoreQueue = NIOLockedValueBox(RestoreQueue())

    /// Nodes waiting for `restoreIfNeeded(_:)`, and whether a task is restoring them.
    private struct RestoreQueue {
        var waiting: [UUID: [CheckedContinuation<Void, any Error>]] = [:]
        var draining = false
    }

    private struct State {
        var nodes: [UUID: NodeSeries] = [:]
        var names: [String: Int] = [:]
        var namesByID: [Int: String] = [:]
        /// Nodes whose stored open blocks were reloaded after start.
        var restored: Set<UUID> = []
        /// Points were ingested since the last flush started.
        var pointsSinceFlush = false
        /// The flush loop waits for points (`idleSleep`) rather than for its next flush.
        var waitingForPoints = false
        /// Flushes the loop has made (for tests).
        var loopFlushes = 0
    }

    /// `now` is injectable so tests can move through hours and days without waiting.
    public init(store: any MetricBlockStore, settings: Settings = Settings(), logger: Logger,
                now: @escaping @Sendable () -> Date = { Date() }) {
        precondition(settings.schedule.problem == nil, settings.schedule.problem ?? "")
        self.store = store
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    var schedule: RetentionSchedule { settings.schedule }
    var nowMilliseconds: Int64 { Int64((now().timeIntervalSince1970 * 1000).rounded()) }

    /// Loads the name dictionary, restores the open blocks and buckets of `nodes` (so roll-ups
    /// open at the last shutdown complete even if a node never reports again), and starts the
    /// flush loop.
    public func start(restoring nodes: [UUID] = []) async throws {
        let names = try await store.metricNames()
        state.withLockedValue { state in
            state.namesByID = names
            state.names = Dictionary(names.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
        }
        try await restore(nodes)
        loop.withLockedValue { task in
            task = Task { [weak self] in
                var pace = FlushPace()
                while !Task.isCancelled {
                    guard let self, await self.flushStep(&pace) else { return }
                }
            }
        }
    }

    /// Where the flush loop is between two flushes.
    private struct FlushPace {
        var lastPrune = ContinuousClock.now
        /// The last flush found nothing to do and no points had come since.
        var waitForPoints = false
    }

    /// One turn of the flush loop: flushes `flushInterval` after points came, again while more
    /// come, then waits for the next points (at most `idleFlushInterval`). A server whose
    /// nodes are collected every minute, or that has none, does not wake every second to find
    /// nothing to write (each wake-up of a sleeping thread costs this project's machine 50-140
    /// µs of CPU, docs/benchmarks.md). False once cancelled: `stop()` does the last flush.
    private func flushStep(_ pace: inout FlushPace) async -> Bool {
        if pace.waitForPoints {
            let outcome = await idleSleep.sleep(upTo: settings.idleFlushInterval)
            state.withLockedValue { $0.waitingForPoints = false }
            // Woken by points (not by the limit): they wait their interval, as all points do.
            if outcome == .woken { try? await Task.sleep(for: settings.flushInterval) }
        } else {
            try? await Task.sleep(for: settings.flushInterval)
        }
        guard !Task.isCancelled else { return false }
        state.withLockedValue { state in
            state.pointsSinceFlush = false
            state.loopFlushes += 1
        }
        let worked: Bool
        do { worked = try await flush() } catch {
            logger.error("writing metric history failed", metadata: ["error": "\(error)"])
            worked = true  // the points are back, for the next flush
        }
        if ContinuousClock.now - pace.lastPrune >= settings.pruneInterval {
            pace.lastPrune = .now
            do { try await prune() } catch {
                logger.error("pruning metric history failed", metadata: ["error": "\(error)"])
            }
        }
        // Nothing written and nothing come since: wait for points. Decided in the lock, so
        // points ingested after it find the loop waiting and wake it.
        pace.waitForPoints = state.withLockedValue { state in
            guard !worked, !state.pointsSinceFlush else { return false }
            state.waitingForPoints = true
            return true
        }
        return true
    }

    /// Notes that points wait to be written; true when the flush loop waits for points and is
    /// to be woken (`idleSleep.wake()`, after the lock).
    private static func notePending(_ state: inout State) -> Bool {
        state.pointsSinceFlush = true
        defer { state.waitingForPoints = false }
        return state.waitingForPoints
    }

    /// Whether the flush loop waits for points, and the flushes it has made (for tests).
    var flushLoop: (waitingForPoints: Bool, flushes: Int) {
        state.withLockedValue { ($0.waitingForPoints, $0.loopFlushes) }
    }

    /// Stops the loop and writes everything still in memory.
    public func stop() async {
        let task = loop.withLockedValue { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
        await flushLogging()
    }

    // MARK: - Ingest

    /// Takes in one collection of one node. Names are looked up once (a collection is ~125
    /// of them); only a collection with a name never seen goes to the store to number it first.
    public func ingest(node: UUID, time: Date, values: MetricValues) async throws {
        try await restoreIfNeeded(node)
        let milliseconds = Int64((time.timeIntervalSince1970 * 1000).rounded())
        let unknown = ingestIfKnown(node: node, time: milliseconds, values: values, partly: false)
        guard !unknown.isEmpty else { return }
        learn(try await store.numberMetricNames(unknown))
        _ = ingestIfKnown(node: node, time: milliseconds, values: values, partly: true)
    }

    public func ingest(node: UUID, time: Date, values: [String: Double]) async throws {
        try await ingest(node: node, time: time, values: MetricValues(values))
    }

    /// Ingests `values` when every name has its number (or, `partly`, those that have one) and
    /// answers the names without one.
    private func ingestIfKnown(node: UUID, time: Int64, values: MetricValues, partly: Bool) -> [String] {
        let (unknown, wake) = state.withLockedValue { state in
            let names = state.names
            let unknown = state.nodes[node, default: NodeSeries(schedule: schedule)].ingest(time: time, values: values, partly: partly) { names[$0] }
            return (unknown, Self.notePending(&state))
        }
        if wake { idleSleep.wake() }
        return unknown
    }

    /// Numbers the store handed out (here or on another server sharing it).
    private func learn(_ numbers: [String: Int]) {
        state.withLockedValue { state in
            for (name, id) in numbers {
                state.names[name] = id
                state.namesByID[id] = name
            }
        }
    }

    /// Reads the names other servers sharing the store have numbered since, if any of `names`
    /// is unknown here.
    func learnNames(ifMissing names: [String]) async throws {
        guard state.withLockedValue({ state in names.contains { state.names[$0] == nil } }) else { return }
        learn(Dictionary(try await store.metricNames().map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first }))
    }

    /// Restores `nodes` at start: `restoreBatchSize` nodes per store query, at most
    /// `restoreParallelism` batches at a time (reading one batch overlaps decoding another).
    private func restore(_ nodes: [UUID]) async throws {
        let size = max(1, settings.restoreBatchSize)
        let parallelism = max(1, settings.restoreParallelism)
        let batches = stride(from: 0, to: nodes.count, by: size).map { Array(nodes[$0..<min($0 + size, nodes.count)]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, batch) in batches.enumerated() {
                if index >= parallelism { try await group.next() }
                group.addTask { try await self.restoreIfNeeded(batch) }
            }
            try await group.waitForAll()
        }
    }

    /// Restores one node before its first collection here (a node taken over from another
    /// server). Nodes arriving together (a failover hands over thousands, each collected soon
    /// after) are restored together, `restoreBatchSize` per query, by one task at a time:
    /// restored one by one, they made four queries each and kept the store's connections busy.
    private func restoreIfNeeded(_ node: UUID) async throws {
        guard !state.withLockedValue({ $0.restored.contains(node) }) else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startDraining = restoreQueue.withLockedValue { queue -> Bool in
                queue.waiting[node, default: []].append(continuation)
                defer { queue.draining = true }
                return !queue.draining
            }
            if startDraining { Task { await drainRestoreQueue() } }
        }
    }

    /// Restores the waiting nodes a batch at a time until none waits.
    private func drainRestoreQueue() async {
        while true {
            let batch = restoreQueue.withLockedValue { queue -> [(UUID, [CheckedContinuation<Void, any Error>])] in
                let taken = Array(queue.waiting.prefix(max(1, settings.restoreBatchSize)))
                for (node, _) in taken { queue.waiting.removeValue(forKey: node) }
                if taken.isEmpty { queue.draining = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            do {
                try await restoreIfNeeded(batch.map(\.0))
                for (_, waiters) in batch { waiters.forEach { $0.resume() } }
            } catch {
                for (_, waiters) in batch { waiters.forEach { $0.resume(throwing: error) } }
            }
        }
    }

    /// After a restart: learns each series' last stored point, the blocks still in chunks, and
    /// replays the raw points of the roll-up buckets still open, so no bucket is lost or
    /// counted twice. One query per tier (and one for the chunks) for all of `nodes`.
    private func restoreIfNeeded(_ nodes: [UUID]) async throws {
        let missing = state.withLockedValue { state in nodes.filter { !state.restored.contains($0) } }
        guard !missing.isEmpty else { return }
        let now = nowMilliseconds
        let replayFrom = NodeSeries.replayStart(schedule: schedule, now: now)
        var series = Dictionary(missing.map { ($0, NodeSeries(schedule: schedule)) }, uniquingKeysWith: { first, _ in first })
        for chunked in try await store.chunkedMetricBlocks(nodes: missing) {
            series[chunked.nodeID]?.restoreChunked(.init(tier: chunked.tier, start: chunked.start), end: chunked.end, lastSequence: chunked.lastSequence)
        }
        // The roll-up tiers first: their stored points set the floors of their buckets, so the
        // raw points replayed after them do not emit again the buckets the store holds.
        for tier in schedule.tiers.indices.reversed() {
            // The current and previous blocks hold every series' last point and the replay window.
            let from = min(replayFrom, schedule.blockStart(tier: tier, time: now) - schedule.blockSpan(tier: tier))
            // Each node's rows come oldest first, as replaying into the buckets needs.
            for stored in try await store.metricBlocks(nodes: missing, tier: tier, from: from, to: Int64.max) {
                guard series[stored.nodeID] != nil else { continue }
                do {
                    for (metric, points) in try NodeBlock.decode(stored.data, start: stored.start) {
                        for point in points {
                            series[stored.nodeID]!.restore(tier: tier, metric: metric, time: point.time, value: point.values[0], replayFrom: replayFrom)
                        }
                    }
                } catch {
                    logger.error("a stored metric block is damaged; its points are skipped",
                                 metadata: ["node": "\(stored.nodeID)", "tier": "\(tier)", "start": "\(stored.start)", "error": "\(error)"])
                }
            }
        }
        state.withLockedValue { state in
            for (node, restored) in series where !state.restored.contains(node) {
                state.restored.insert(node)
                if state.nodes[node] == nil { state.nodes[node] = restored }
            }
        }
    }

    /// Metric numbers by name.
    func metricIDs() -> [String: Int] { state.withLockedValue { $0.names } }

    /// The points not known to be written (pending, or taken by a flush whose write has not
    /// committed), in `tier` blocks overlapping `from ..< to`, as rows after every stored row
    /// of their block, after closing the roll-up buckets that have ended by `now`. The nodes'
    /// states are copied under the lock (their arrays shared, not copied) and encoded outside it.
    func unstoredRows(nodes: [UUID], tier: Int, from: Int64, to: Int64, now: Int64) -> [StoredMetricBlock] {
        let held = state.withLockedValue { state in
            nodes.compactMap { node -> (UUID, NodeSeries)? in
                state.nodes[node]?.closeBuckets(now: now)
                return state.nodes[node].map { (node, $0) }
            }
        }
        return held.flatMap { node, series in
            series.unstored(tier: tier, from: from, to: to).map {
                StoredMetricBlock(nodeID: node, tier: tier, start: $0.key.start, sequence: .max, end: $0.end, points: $0.points, data: $0.data)
            }
        }
    }

    /// Per node held here, the time (ms) through which its raw points are all in the store
    /// (`NodeSeries.writtenThrough`); a node not held here has no points in memory, so every
    /// point of it a query returns came from the store.
    func writtenThrough(nodes: [UUID]) -> [UUID: Int64] {
        state.withLockedValue { state in
            var through: [UUID: Int64] = [:]
            for node in nodes { through[node] = state.nodes[node]?.writtenThrough }
            return through
        }
    }

    // MARK: - Flush, compaction and retention

    /// Closes ended roll-up buckets, appends the new points as chunk rows (one transaction per
    /// `flushBatchSize` nodes), and compacts the blocks whose time is over. Flushes run one
    /// after another, so two never write the same block at once.
    /// True when it wrote or compacted anything.
    @discardableResult
    public func flush() async throws -> Bool {
        try await flush(only: nil)
    }

    /// Writes the pending points of `only` (every node if nil), after any flush already
    /// started: a flush that took a node's earlier chunks writes them first.
    @discardableResult
    private func flush(only: [UUID]?) async throws -> Bool {
        let task = flushChain.withLockedValue { previous -> Task<Bool, any Error> in
            let next = Task { [previous] in
                _ = await previous?.result
                return try await self.flushNow(only: only)
            }
            previous = next
            return next
        }
        return try await task.value
    }

    private func flushNow(only: [UUID]?) async throws -> Bool {
        let now = nowMilliseconds
        let ids = only ?? state.withLockedValue { Array($0.nodes.keys) }
        var wrote = false
        // A batch at a time (see `Settings.flushBatchSize`): at most one batch's pending blocks
        // and encoded rows are held at once.
        for batch in Self.batches(ids, of: settings.flushBatchSize) {
            // The lock taken per node: taking a node's points encodes them. A batch holds only
            // the encoded rows.
            var chunks: [UUID: [NodeSeries.Chunk]] = [:]
            for id in batch {
                let taken = state.withLockedValue { state -> [NodeSeries.Chunk] in
                    // Gone since the keys were read (forgotten or handed over): nothing to write.
                    state.nodes[id]?.closeBuckets(now: now)
                    return state.nodes[id]?.takePending() ?? []
                }
                if !taken.isEmpty { chunks[id] = taken }
            }
            guard !chunks.isEmpty else { continue }
            wrote = true
            let rows = chunks.flatMap { node, taken in
                taken.map { StoredMetricBlock(nodeID: node, tier: $0.key.tier, start: $0.key.start, sequence: $0.sequence,
                                              end: $0.end, points: $0.points, data: $0.data) }
            }
            do {
                try await store.writeMetricBlocks(rows)
                state.withLockedValue { state in
                    for node in chunks.keys { state.nodes[node]?.written() }
                }
            } catch {
                // Nothing is lost: the chunks go back for the next flush (and the batches not
                // reached yet keep theirs pending). A flush other than the loop's (a hand-over's)
                // wakes the loop if it waits, so they are tried again a flush interval on.
                let wake = state.withLockedValue { state in
                    for (node, taken) in chunks { state.nodes[node]?.retry(taken) }
                    return Self.notePending(&state)
                }
                if wake { idleSleep.wake() }
                throw error
            }
        }
        return try await compact(now: now) || wrote
    }

    /// The first chunk number one read serves every compaction of a batch with: the lowest
    /// first row merged, when all are merges (as all are but at a block's end); 0, every row,
    /// when one rewrites a whole block. Any higher and a node merging from a lower row would
    /// get only part of its rows, and its merged row would replace them all.
    static func firstRowRead(for compactions: [NodeSeries.Compaction]) -> Int {
        compactions.map { compaction -> Int in
            if case .merge(let first, _, _) = compaction { return first }
            return 0
        }.min() ?? 0
    }

    /// `items` in consecutive slices of at most `size`.
    static func batches<T>(_ items: [T], of size: Int) -> [ArraySlice<T>] {
        let size = max(1, size)
        return stride(from: 0, to: items.count, by: size).map { items[$0..<min($0 + size, items.count)] }
    }

    /// Compacts what `NodeSeries.compactions` says: each block whose time is over rewritten,
    /// chunks and all, as one row; in each open block, the newest chunk rows of one level
    /// merged into one. The nodes due with the same block (at the end of an hour, every node's
    /// raw block) are read `flushBatchSize` at a time, one query each, and each batch is
    /// written in one transaction per kind.
    /// True when anything was due.
    private func compact(now: Int64) async throws -> Bool {
        let due = state.withLockedValue { state in
            state.nodes.flatMap { node, series in series.compactions(now: now).map { (node: node, key: $0.key, compaction: $0.compaction) } }
        }
        guard !due.isEmpty else { return false }
        for (key, entries) in Dictionary(grouping: due, by: \.key) {
            for batch in Self.batches(entries, of: settings.flushBatchSize) {
                // Each node's rows oldest first (the compacted block, then its chunks), as
                // `rewrite` reads them.
                let fromSequence = Self.firstRowRead(for: batch.map(\.compaction))
                let rows = Dictionary(grouping: try await store.metricBlockRows(nodes: batch.map(\.node), tier: key.tier, start: key.start, fromSequence: fromSequence),
                                      by: \.nodeID)
                var whole: [StoredMetricBlock] = []
                var merges: [MetricChunkMerge] = []
                for entry in batch {
                    do {
                        switch entry.compaction {
                        case .whole:
                            guard let rows = rows[entry.node], let end = rows.map(\.end).max() else { continue }
                            let block = try Self.rewrite(rows, key: key, end: end)
                            whole.append(StoredMetricBlock(nodeID: entry.node, tier: key.tier, start: key.start, end: block.end,
                                                           points: block.pointCount, data: block.encoded()))
                        case .merge(let first, let last, _):
                            let merged = (rows[entry.node] ?? []).filter { $0.sequence >= first && $0.sequence <= last }
                            guard let end = merged.map(\.end).max() else { continue }
                            let block = try Self.rewrite(merged, key: key, end: end)
                            merges.append(MetricChunkMerge(merged: StoredMetricBlock(nodeID: entry.node, tier: key.tier, start: key.start, sequence: first,
                                                                                     end: block.end, points: block.pointCount, data: block.encoded()),
                                                           lastSequence: last))
                        }
                    } catch {
                        // A row the codec refuses: its rows stay as they are (the others still
                        // read), and the compaction counts as done below. Throwing here stopped
                        // every node's compaction at every flush after it.
                        logger.error("a stored metric block is damaged; its rows are left as they are, not compacted",
                                     metadata: ["node": "\(entry.node)", "tier": "\(key.tier)", "start": "\(key.start)", "error": "\(error)"])
                    }
                }
                try await store.compactMetricBlocks(whole)
                try await store.mergeMetricChunks(merges)
                // Also for a node whose rows were gone (pruned, deleted): nothing is left to compact.
                state.withLockedValue { state in
                    for entry in batch {
                        switch entry.compaction {
                        case .whole: state.nodes[entry.node]?.compacted(key)
                        case .merge(let first, let last, let level): state.nodes[entry.node]?.merged(key, first: first, last: last, level: level)
                        }
                    }
                }
            }
        }
        return true
    }

    /// One block of `rows` (oldest first): straight from their bytes when their points come
    /// in time order (always, as servers write them), else through `merged`, which sorts them.
    static func rewrite(_ rows: [StoredMetricBlock], key: NodeSeries.BlockKey, end: Int64) throws -> NodeBlock {
        let width = NodeSeries.width(tier: key.tier)
        var block = NodeBlock(start: key.start, end: end, width: width)
        var inOrder = true
        var rowsLeft = rows.reduce(0) { $0 + $1.data.count }
        for row in rows where inOrder {
            inOrder = try block.append(stored: row.data, start: row.start, rowsLeft: rowsLeft)
            rowsLeft -= row.data.count
        }
        guard !inOrder else { return block }
        block = NodeBlock(start: key.start, end: end, width: width)
        for (metric, points) in try merged(rows) {
            for point in points { block.append(metric: metric, time: point.time, values: point.values) }
        }
        return block
    }

    /// The points of one block's rows (the compacted block and its chunks), per metric, in time
    /// order without repeats. A row the codec refuses throws, or, given `damaged`, is handed to
    /// it and skipped.
    static func merged(_ rows: [StoredMetricBlock], metrics wanted: Set<Int>? = nil,
                       damaged: ((StoredMetricBlock, any Error) -> Void)? = nil) throws -> [Int: [SeriesPoint]] {
        var merged: [Int: [SeriesPoint]] = [:]
        for row in rows {
            let decoded: [Int: [SeriesPoint]]
            do {
                decoded = try NodeBlock.decode(row.data, start: row.start, metrics: wanted)
            } catch {
                guard let damaged else { throw error }
                damaged(row, error)
                continue
            }
            for (metric, points) in decoded { merged[metric, default: []] += points }
        }
        for (metric, points) in merged where zip(points, points.dropFirst()).contains(where: { $0.time >= $1.time }) {
            var seen = Set<Int64>()
            merged[metric] = points.sorted { $0.time < $1.time }.filter { seen.insert($0.time).inserted }
        }
        return merged
    }

    private func flushLogging() async {
        do { try await flush() } catch {
            logger.error("writing metric history failed", metadata: ["error": "\(error)"])
        }
    }

    /// Deletes the blocks whose every point is past its tier's retention.
    public func prune() async throws {
        let now = nowMilliseconds
        for tier in schedule.tiers.indices {
            _ = try await store.deleteMetricBlocks(tier: tier, endingBy: schedule.oldestKept(tier: tier, now: now))
        }
    }

    /// Hands a node's history over to the server that manages it next (cluster): writes what
    /// is pending, then drops the node's open blocks here, so that if this server takes the
    /// node back later it reloads them from the store (with the chunks the other server wrote
    /// meanwhile) instead of numbering its chunks from a stale copy and overwriting theirs.
    /// Only this node's points are written: a mass hand-over (thousands of nodes as a server
    /// joins) wrote the whole archive once per node, and the metrics service, handling node
    /// events in order, fell minutes behind, starting the collectors of nodes it took late.
    public func handOver(node: UUID) async throws {
        try await flush(only: [node])
        state.withLockedValue { state in
            state.nodes[node] = nil
            state.restored.remove(node)
        }
    }

    /// Forgets a node's whole history (the node was removed).
    public func forget(node: UUID) async throws {
        state.withLockedValue { state in
            state.nodes[node] = nil
            state.restored.remove(node)
        }
        try await store.deleteMetricBlocks(node: node)
    }
}
