import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: AuditStore {
    public func appendAudit(_ entry: AuditEntry) async throws -> AuditEntry {
        let row = try await rows("""
            INSERT INTO audit (time, actor, node_id, node_name, command, outcome, result, duration_ms)
            VALUES (\(entry.time.timeIntervalSince1970), \(entry.actor), \(entry.nodeID), \(entry.nodeName), \(entry.command),
                    \(entry.outcome.rawValue), \(entry.result), \(entry.durationMilliseconds))
            RETURNING id
            """).first
        var stored = entry
        stored.id = try row?.value("id", as: Int64.self) ?? 0
        return stored
    }

    public func auditEntries(node: UUID?, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await rows("""
            SELECT * FROM audit WHERE (\(node)::uuid IS NULL OR node_id = \(node)) AND (\(before)::bigint IS NULL OR id < \(before))
            ORDER BY id DESC LIMIT \(limit)
            """).map { row in
            AuditEntry(id: try row.value("id"), time: Date(timeIntervalSince1970: try row.value("time")), actor: try row.value("actor"),
                       nodeID: try row.value("node_id"), nodeName: try row.value("node_name"), command: try row.value("command"),
                       outcome: AuditEntry.Outcome(rawValue: try row.value("outcome")) ?? .error, result: try row.value("result"),
                       durationMilliseconds: try row.value("duration_ms"))
        }
    }
}
