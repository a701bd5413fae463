import Foundation
import Logging
import NIOCore
import NumbatCore
import PostgresNIO

/// The cluster's event log on PostgreSQL: the `cluster_event` table plus LISTEN/NOTIFY.
///
/// Why a table and a NOTIFY of ids, rather than the events in the NOTIFY payload:
/// - A payload is limited to 8000 bytes, and events are not: a family's description, an alarm
///   with a long message, a deployment's error can each be larger. A row has no such limit, so
///   every event crosses whole, without a chunking protocol to reassemble and to get wrong.
/// - A notification is lost when the listening connection is down (a restart of PostgreSQL, a
///   network cut). With the rows kept a few minutes, a listener that reconnects reads what it
///   missed (`clusterEvents(origin:after:limit:)` from where it stopped), so a WebSocket client
///   still gets every event once; payload-only NOTIFY could not do that.
/// - One NOTIFY per appended batch (`"<origin> <last id>"`, about 60 bytes) rather than per
///   event keeps the notification queue small when a server publishes hundreds a second.
///
/// Order: a server appends its events one batch at a time, each batch in one statement, so its
/// ids grow in the order it published them, and a reader that reads an origin's rows by id reads
/// them in that order. NOTIFY is delivered at commit, when the rows are visible.
extension PostgresStore: ClusterEventLog {
    /// The LISTEN/NOTIFY channel.
    static let clusterEventChannel = "numbat_cluster_events"
    /// The listening connection's `application_name`.
    public static let clusterEventListenerName = "numbat cluster events"

    @discardableResult
    public func appendClusterEvents(_ bodies: [Data], origin: UUID) async throws -> Int64 {
        guard !bodies.isEmpty else { return 0 }
        let buffers = bodies.map { ByteBuffer(bytes: $0) }
        // One statement: the rows in the batch's order (WITH ORDINALITY), then one NOTIFY,
        // sent when the statement commits.
        let row = try await rows("""
            WITH appended AS (
                INSERT INTO cluster_event (origin, body)
                SELECT \(origin), e.body FROM unnest(\(buffers)::bytea[]) WITH ORDINALITY AS e(body, n) ORDER BY e.n
                RETURNING id)
            SELECT max(id) AS last,
                   pg_notify(\(Self.clusterEventChannel), \(origin.uuidString.lowercased()) || ' ' || max(id)::text) AS notified
            FROM appended
            """).first
        return try row?.value("last", as: Int64?.self) ?? 0
    }

    public func clusterEvents(origin: UUID, after id: Int64, limit: Int) async throws -> [ClusterEventRecord] {
        try await rows("""
            SELECT id, body FROM cluster_event WHERE origin = \(origin) AND id > \(id) ORDER BY id LIMIT \(limit)
            """).map { row in
            ClusterEventRecord(id: try row.value("id"), origin: origin, body: try row.value("body"))
        }
    }

    public func clusterEventHeads() async throws -> [UUID: Int64] {
        var heads: [UUID: Int64] = [:]
        for row in try await rows("SELECT origin, max(id) AS head FROM cluster_event GROUP BY origin") {
            heads[try row.value("origin", as: UUID.self)] = try row.value("head", as: Int64.self)
        }
        return heads
    }

    @discardableResult
    public func pruneClusterEvents(olderThan age: TimeInterval) async throws -> Int {
        try await rows("""
            WITH pruned AS (DELETE FROM cluster_event WHERE created_at < now() - make_interval(secs => \(age)) RETURNING 1)
            SELECT count(*) AS pruned FROM pruned
            """).first.map { try $0.value("pruned", as: Int.self) } ?? 0
    }

    /// Listens on a connection of its own (a pooled one would go back to the pool, and LISTEN
    /// with it). The connection is checked every `keepAlive`: a dead one (a half-open TCP
    /// connection never reports itself) ends the stream with an error, and the listener comes
    /// back and catches up.
    public func clusterEventSignals() -> AsyncThrowingStream<ClusterEventSignal, any Error> {
        let (stream, continuation) = AsyncThrowingStream<ClusterEventSignal, any Error>.makeStream()
        let logger = self.logger
        let task = Task {
            do {
                var configuration = try self.connectionConfiguration()
                // Named, so an operator sees it in pg_stat_activity for what it is.
                configuration.options.additionalStartupParameters.append(("application_name", Self.clusterEventListenerName))
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
                do {
                    try await connection.listen(on: Self.clusterEventChannel) { notifications in
                        continuation.yield(.listening)
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for try await notification in notifications {
                                    if let signal = Self.clusterEventSignal(notification.payload) { continuation.yield(signal) }
                                }
                                throw PostgresStoreError.listenEnded
                            }
                            group.addTask {
                                while true {
                                    try await Task.sleep(for: .seconds(10))
                                    try await Self.ping(connection, logger: logger)
                                }
                            }
                            try await group.next()
                            group.cancelAll()
                        }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
                continuation.finish()
            } catch {
                continuation.finish(throwing: Task.isCancelled ? CancellationError() : error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// `SELECT 1`, failing after 10 s without an answer.
    private static func ping(_ connection: PostgresConnection, logger: Logger) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await connection.query("SELECT 1", logger: logger)
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return false
            }
            let answered = try await group.next() ?? false
            group.cancelAll()
            if !answered { throw PostgresStoreError.listenEnded }
        }
    }

    /// `"<origin uuid> <last id>"`; nil for anything else on the channel.
    static func clusterEventSignal(_ payload: String) -> ClusterEventSignal? {
        let parts = payload.split(separator: " ")
        guard parts.count == 2, let origin = UUID(uuidString: String(parts[0])), let id = Int64(parts[1]) else { return nil }
        return .appended(origin: origin, lastID: id)
    }
}
