import Foundation
import GRDB
import NumbatCore

extension SQLiteStore: TraceStore {
    public func saveTraceSession(_ session: TraceSession) async throws {
        let body = try AlertRoutingRows.encode(session)
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO trace_session (id, started_at, body) VALUES (?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET body = excluded.body
                """, arguments: [session.id, session.startedAt.timeIntervalSince1970, body])
        }
    }

    public func traceSession(id: UUID) async throws -> TraceSession? {
        try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT body FROM trace_session WHERE id = ?", arguments: [id])
        }.map { try AlertRoutingRows.decode(TraceSession.self, $0) }
    }

    public func traceSessions(limit: Int) async throws -> [TraceSession] {
        try await pool.read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM trace_session ORDER BY started_at DESC, position DESC LIMIT ?", arguments: [limit])
        }.map { try AlertRoutingRows.decode(TraceSession.self, $0) }
    }

    public func appendTraceEvents(_ events: [TraceEvent]) async throws -> [TraceEvent] {
        try await pool.write { db in
            try events.map { event in
                try db.execute(sql: "INSERT INTO trace_event (session_id, node_id, time, kind, pid, text) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [event.sessionID, event.nodeID, event.time.timeIntervalSince1970, event.kind, event.pid, event.text])
                var stored = event
                stored.id = db.lastInsertedRowID
                return stored
            }
        }
    }

    public func traceEvents(session: UUID, after: Int64?, limit: Int) async throws -> [TraceEvent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM trace_event WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?
                """, arguments: [session, after ?? 0, limit]).map { row in
                TraceEvent(id: row["id"], sessionID: row["session_id"], nodeID: row["node_id"], time: Date(timeIntervalSince1970: row["time"]),
                           kind: row["kind"], pid: row["pid"], text: row["text"])
            }
        }
    }

    public func pruneTraceSessions(keep: Int) async throws -> Int {
        try await pool.write { db in
            let old = try UUID.fetchAll(db, sql: "SELECT id FROM trace_session ORDER BY started_at DESC, position DESC LIMIT -1 OFFSET ?", arguments: [keep])
            for id in old {
                try db.execute(sql: "DELETE FROM trace_event WHERE session_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM trace_session WHERE id = ?", arguments: [id])
            }
            return old.count
        }
    }
}
