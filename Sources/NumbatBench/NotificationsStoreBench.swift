import Foundation
import GRDB
import NumbatCore
import NumbatStore
import NumbatTestSupport

/// `numbat-bench --only notifications-store`: the notification store alone (no network): the
/// ingest rate in batches as the collectors write them, and the time to read the latest 100 (all,
/// and filtered by node and severity) as the store grows to each size. The reference in the same
/// run: the latest 100 by time, the way a log read without an id cursor (disk_log's complaint in
/// the seed) finds them: a scan of everything stored.
struct NotificationsStoreBench {
    var sizes: [Int]
    var batch = 500

    struct Result {
        var stored: Int
        var ingestRate: Double
        var latestMs: Double
        var filteredMs: Double
        var referenceMs: Double
        var fileBytes: Int
    }

    func run() async throws -> [Result] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-notifications-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory)
        // The reference reads the same file through a pool of its own.
        let reader = try DatabasePool(path: directory.appendingPathComponent("numbat.sqlite").path)
        let nodes = (0..<50).map { _ in UUID() }
        var random = SeededRandom(seed: 7)
        var stored = 0
        var rows: [Result] = []
        for size in sizes.sorted() {
            progress("notifications-store: filling to \(grouped(size))")
            let started = monotonicNanos()
            let added = size - stored
            while stored < size {
                let count = min(batch, size - stored)
                let notifications = (0..<count).map { index -> NodeNotification in
                    let node = nodes[Int(random.next() % UInt64(nodes.count))]
                    let severity: NodeNotification.Severity = random.next() % 10 == 0 ? .error : .warning
                    return NodeNotification(nodeID: node, nodeName: "app\(node.uuidString.prefix(4))@host", time: Date(),
                                            severity: severity, source: .logger,
                                            message: "request \(stored + index) failed: {timeout,{gen_server,call,[db_pool,checkout,5000]}}",
                                            metadata: ["pid": "<0.\(random.next() % 30000).0>", "mfa": "shop_checkout:pay/2", "line": "\(random.next() % 400)"])
                }
                _ = try await store.appendNotifications(notifications, retain: Int.max)
                stored += count
            }
            let ingestSeconds = Double(monotonicNanos() - started) / 1e9
            let latest = try await median(of: 30) { _ = try await store.notifications(NotificationQuery(limit: 100)) }
            let filtered = try await median(of: 30) {
                _ = try await store.notifications(NotificationQuery(nodes: [nodes[3]], severity: .error, limit: 100))
            }
            let reference = try await median(of: size >= 1_000_000 ? 3 : 30) {
                _ = try await reader.read { db in try Row.fetchAll(db, sql: "SELECT * FROM notification ORDER BY time DESC LIMIT 100") }
            }
            let file = (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("numbat.sqlite").path)[.size] as? Int) ?? 0
            let wal = (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("numbat.sqlite-wal").path)[.size] as? Int) ?? 0
            rows.append(Result(stored: stored, ingestRate: Double(added) / ingestSeconds, latestMs: latest, filteredMs: filtered,
                            referenceMs: reference, fileBytes: file + wal))
        }
        try reader.close()
        try store.close()
        return rows
    }

    /// The median wall time of `body`, in milliseconds.
    private func median(of runs: Int, _ body: () async throws -> Void) async throws -> Double {
        var times: [Double] = []
        for _ in 0..<runs {
            let start = monotonicNanos()
            try await body()
            times.append(Double(monotonicNanos() - start) / 1e6)
        }
        return times.sorted()[times.count / 2]
    }
}
