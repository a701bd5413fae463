import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore
import NumbatStore
import Testing

@testable import NumbatServices

/// A point the series API has shown stays shown while a flush writes it: found by the kill
/// campaign (docs/reliability.md), where a query between a flush taking the points from memory
/// and its write committing answered without them.
@Suite("metric history: points being written are still answered")
struct MetricFlushVisibilityTests {
    @Test("NodeSeries: chunks taken for writing stay unstored until written; a failed write keeps them for the retry")
    func unstoredChunks() {
        var series = NodeSeries(schedule: .standard)
        series.ingest(time: 1_000, values: [(metric: 1, value: 5)])
        #expect(series.unstored().count == 1)
        let taken = series.takePending()
        #expect(taken.count == 1 && series.unstored().map(\.sequence) == [1], "taken: only the chunk being written")
        #expect(series.unstored().map(\.points) == [1], "taken but not yet written: still unstored")
        series.ingest(time: 2_000, values: [(metric: 1, value: 6)])
        #expect(series.unstored().count == 2, "the chunk being written, then the new pending point")
        series.retry(taken)
        #expect(series.unstored().count == 2, "a failed write keeps its chunk for the next flush")
        let again = series.takePending()
        #expect(again.map(\.sequence) == [1, 2])
        series.written()
        #expect(series.unstored().isEmpty)
    }

    @Test("NodeSeries: written_through stops before the earliest raw point not written (pending, being written, or failed), and reaches the newest once all are written")
    func writtenThrough() {
        var series = NodeSeries(schedule: .standard)
        #expect(series.writtenThrough == nil, "no point yet")
        series.ingest(time: 1_000, values: [(metric: 1, value: 5), (metric: 2, value: 1)])
        series.ingest(time: 2_000, values: [(metric: 1, value: 6)])
        #expect(series.writtenThrough == 999, "nothing written: before the first point")
        let taken = series.takePending()
        #expect(series.writtenThrough == 999, "being written is not written")
        series.ingest(time: 3_000, values: [(metric: 2, value: 2)])
        series.retry(taken)
        #expect(series.writtenThrough == 999, "a failed write is not written")
        _ = series.takePending()
        series.written()
        #expect(series.writtenThrough == 3_000, "all written: through the newest point")
        series.ingest(time: 4_000, values: [(metric: 1, value: 7)])
        #expect(series.writtenThrough == 3_999)
        // A restart: stored points count as written.
        var restored = NodeSeries(schedule: .standard)
        restored.restore(tier: 0, metric: 1, time: 7_000, value: 1, replayFrom: 0)
        #expect(restored.writtenThrough == 7_000)
    }

    @Test("a series query while a flush is writing answers every point; after the write and after a failed one too")
    func queryDuringFlush() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-flush-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let sqlite = try SQLiteStore(directory: directory)
        let store = GatedBlockStore(sqlite)
        var settings = MetricArchive.Settings()
        settings.flushInterval = .seconds(3600)  // flushed by hand
        let start = Date(timeIntervalSince1970: 1_796_083_200)
        let archive = MetricArchive(store: store, settings: settings, logger: Logger(label: "test"), now: { start.addingTimeInterval(60) })
        try await archive.start()
        let node = UUID()
        for second in 0..<10 {
            try await archive.ingest(node: node, time: start.addingTimeInterval(Double(second)), values: ["m": Double(second)])
        }
        func answered() async throws -> [Double] {
            try await archive.series(nodes: [node], metrics: ["m"], from: start, to: start.addingTimeInterval(60)).series[0].points.map(\.value)
        }
        #expect(try await answered() == (0..<10).map(Double.init))
        let first = Int64(start.timeIntervalSince1970 * 1000)
        func writtenThrough() -> Int64? { archive.writtenThrough(nodes: [node])[node] }
        #expect(writtenThrough() == first - 1, "nothing written yet")

        // The write is held: the points are neither pending nor stored yet.
        store.hold()
        let flushing = Task { try await archive.flush() }
        try await store.waitUntilHeld()
        #expect(try await answered() == (0..<10).map(Double.init), "points being written are answered")
        #expect(writtenThrough() == first - 1, "being written is not written")
        store.release(failing: false)
        _ = try await flushing.value
        #expect(try await answered() == (0..<10).map(Double.init))
        #expect(writtenThrough() == first + 9_000, "all ten written")

        // A failed write: the points stay answered, and the next flush writes them.
        try await archive.ingest(node: node, time: start.addingTimeInterval(10), values: ["m": 10])
        store.hold()
        let failing = Task { try await archive.flush() }
        try await store.waitUntilHeld()
        store.release(failing: true)
        await #expect(throws: GatedBlockStore.Refused.self) { try await failing.value }
        #expect(try await answered() == (0..<11).map(Double.init), "a failed write loses nothing from the answers")
        #expect(writtenThrough() == first + 9_999, "the eleventh point is not written")
        try await archive.flush()
        #expect(writtenThrough() == first + 10_000)
        #expect(try await sqlite.metricBlocks(nodes: [node], tier: 0, from: 0, to: .max).reduce(0) { $0 + $1.points } == 11)
        await archive.stop()
        try sqlite.close()
    }
}

/// The SQLite store with a gate on metric writes: held, a write waits until released (and then
/// goes on, or fails).
final class GatedBlockStore: MetricBlockStore, @unchecked Sendable {
    struct Refused: Error {}

    private let store: SQLiteStore
    private let lock = NSLock()
    private var held = false
    private var waiting: CheckedContinuation<Bool, Never>?

    init(_ store: SQLiteStore) { self.store = store }

    func hold() { lock.withLock { held = true } }

    /// Waits until a write is waiting at the gate.
    func waitUntilHeld() async throws {
        for _ in 0..<1000 {
            if lock.withLock({ waiting != nil }) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw Refused()
    }

    func release(failing: Bool) {
        let continuation = lock.withLock { () -> CheckedContinuation<Bool, Never>? in
            held = false
            defer { waiting = nil }
            return waiting
        }
        continuation?.resume(returning: !failing)
    }

    func writeMetricBlocks(_ blocks: [StoredMetricBlock]) async throws {
        let proceed = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let wait = lock.withLock { () -> Bool in
                guard held else { return false }
                waiting = continuation
                return true
            }
            if !wait { continuation.resume(returning: true) }
        }
        guard proceed else { throw Refused() }
        try await store.writeMetricBlocks(blocks)
    }

    func metricNames() async throws -> [Int: String] { try await store.metricNames() }
    func numberMetricNames(_ names: [String]) async throws -> [String: Int] { try await store.numberMetricNames(names) }
    func metricBlocks(nodes: [UUID], tier: Int, from: Int64, to: Int64) async throws -> [StoredMetricBlock] {
        try await store.metricBlocks(nodes: nodes, tier: tier, from: from, to: to)
    }
    func compactMetricBlocks(_ blocks: [StoredMetricBlock]) async throws { try await store.compactMetricBlocks(blocks) }
    func mergeMetricChunks(_ merges: [MetricChunkMerge]) async throws { try await store.mergeMetricChunks(merges) }
    func chunkedMetricBlocks(nodes: [UUID]) async throws -> [ChunkedMetricBlock] { try await store.chunkedMetricBlocks(nodes: nodes) }
    func deleteMetricBlocks(tier: Int, endingBy end: Int64) async throws -> Int { try await store.deleteMetricBlocks(tier: tier, endingBy: end) }
    func deleteMetricBlocks(node: UUID) async throws { try await store.deleteMetricBlocks(node: node) }
    func metricStorageStats() async throws -> MetricStorageStats { try await store.metricStorageStats() }
}
