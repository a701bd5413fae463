import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: TraceStore {
    public func saveTraceSession(_ session: TraceSession) async throws {
        let body = try AlertRoutingRows.encode(session)
        try await client.query("""
            INSERT INTO trace_session (id, started_at, body) VALUES (\(session.id), \(session.startedAt.timeIntervalSince1970), \(body))
            ON CONFLICT (id) DO UPDATE SET body = excluded.body
            """, logger: logger)
    }

    public func traceSession(id: UUID) async throws -> TraceSession? {
        try await rows("SELECT body FROM trace_session WHERE id = \(id)").first.map { try AlertRoutingRows.decode(TraceSession.self, try $0.value("body")) }
    }

    public func traceSessions(limit: Int) async throws -> [TraceSession] {
        try await rows("SELECT body FROM trace_session ORDER BY started_at DESC, position DESC LIMIT \(limit)")
            .map { try AlertRoutingRows.decode(TraceSession.self, try $0.value("body")) }
    }

    public func appendTraceEvents(_ events: [TraceEvent]) async throws -> [TraceEvent] {
        guard !events.isEmpty else { return [] }
        let logger = self.logger
        return try await transaction { connection in
            var stored: [TraceEvent] = []
            for event in events {
                let row = try await Self.rows("""
                    INSERT INTO trace_event (session_id, node_id, time, kind, pid, text)
                    VALUES (\(event.sessionID), \(event.nodeID), \(event.time.timeIntervalSince1970), \(event.kind), \(event.pid), \(event.text))
                    RETURNING id
                    """, on: connection, logger: logger).first
                var kept = event
                kept.id = try row?.value("id", as: Int64.self) ?? 0
                stored.append(kept)
            }
            return stored
        }
    }

    public func traceEvents(session: UUID, after: Int64?, limit: Int) async throws -> [TraceEvent] {
        try await rows("""
            SELECT * FROM trace_event WHERE session_id = \(session) AND id > \(after ?? 0) ORDER BY id LIMIT \(limit)
            """).map { row in
            TraceEvent(id: try row.value("id"), sessionID: try row.value("session_id"), nodeID: try row.value("node_id"),
                       time: Date(timeIntervalSince1970: try row.value("time")), kind: try row.value("kind"), pid: try row.value("pid"),
                       text: try row.value("text"))
        }
    }

    public func pruneTraceSessions(keep: Int) async throws -> Int {
        let logger = self.logger
        return try await transaction { connection in
            let old = try await Self.rows("SELECT id FROM trace_session ORDER BY started_at DESC, position DESC OFFSET \(keep)",
                                          on: connection, logger: logger).map { try $0.value("id", as: UUID.self) }
            for id in old {
                try await connection.query("DELETE FROM trace_event WHERE session_id = \(id)", logger: logger)
                try await connection.query("DELETE FROM trace_session WHERE id = \(id)", logger: logger)
            }
            return old.count
        }
    }
}
