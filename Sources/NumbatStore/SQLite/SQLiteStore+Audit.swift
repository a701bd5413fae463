import Foundation
import GRDB
import NumbatCore

extension SQLiteStore: AuditStore {
    public func appendAudit(_ entry: AuditEntry) async throws -> AuditEntry {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO audit (time, actor, node_id, node_name, command, outcome, result, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [entry.time.timeIntervalSince1970, entry.actor, entry.nodeID, entry.nodeName, entry.command,
                                 entry.outcome.rawValue, entry.result, entry.durationMilliseconds])
            var stored = entry
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    public func auditEntries(node: UUID?, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM audit WHERE (? IS NULL OR node_id = ?) AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?
                """, arguments: [node, node, before, before, limit]).map { row in
                AuditEntry(id: row["id"], time: Date(timeIntervalSince1970: row["time"]), actor: row["actor"], nodeID: row["node_id"],
                           nodeName: row["node_name"], command: row["command"],
                           outcome: AuditEntry.Outcome(rawValue: row["outcome"]) ?? .error, result: row["result"],
                           durationMilliseconds: row["duration_ms"])
            }
        }
    }
}
