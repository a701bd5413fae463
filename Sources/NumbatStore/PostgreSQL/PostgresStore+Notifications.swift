import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: NotificationStore {
    public func appendNotifications(_ notifications: [NodeNotification], retain: Int) async throws -> [NodeNotification] {
        guard !notifications.isEmpty else { return [] }
        let logger = self.logger
        return try await transaction { connection in
            var stored: [NodeNotification] = []
            for var notification in notifications {
                let metadata = String(decoding: try JSONEncoder().encode(notification.metadata), as: UTF8.self)
                let row = try await Self.rows("""
                    INSERT INTO notification (node_id, node_name, time, severity, source, message, metadata)
                    VALUES (\(notification.nodeID), \(notification.nodeName), \(notification.time.timeIntervalSince1970),
                            \(notification.severity.rank), \(notification.source.rawValue), \(notification.message), \(metadata))
                    RETURNING id
                    """, on: connection, logger: logger).first
                notification.id = try row?.value("id", as: Int64.self) ?? 0
                stored.append(notification)
            }
            // Retention, as in SQLite: everything older than the newest `retain` ids goes (ids
            // a rolled-back insert skipped make it keep a few fewer, never more).
            if let last = stored.last?.id, last > Int64(retain) {
                try await connection.query("DELETE FROM notification WHERE id <= \(last - Int64(retain))", logger: logger)
            }
            return stored
        }
    }

    public func notifications(_ query: NotificationQuery) async throws -> [NodeNotification] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func next() -> String { "$\(binds.count)" }
        if let before = query.before { binds.append(before); conditions.append("id < \(next())") }
        if let nodes = query.nodes { binds.append(nodes); conditions.append("node_id = ANY(\(next()))") }
        if let severity = query.severity { binds.append(severity.rank); conditions.append("severity <= \(next())") }
        if let from = query.from { binds.append(from.timeIntervalSince1970); conditions.append("time >= \(next())") }
        if let to = query.to { binds.append(to.timeIntervalSince1970); conditions.append("time <= \(next())") }
        if let text = query.text, !text.isEmpty {
            // ILIKE: SQLite's LIKE ignores case too.
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
            binds.append("%\(escaped)%")
            conditions.append("message ILIKE \(next()) ESCAPE '\\'")
        }
        binds.append(query.limit)
        let sql = "SELECT * FROM notification" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY id DESC LIMIT \(next())"
        return try await rows(PostgresQuery(unsafeSQL: sql, binds: binds)).map { row in
            let metadataText: String = try row.value("metadata")
            let metadata = (try? JSONDecoder().decode([String: String].self, from: Data(metadataText.utf8))) ?? [:]
            let rank: Int = try row.value("severity")
            return NodeNotification(
                id: try row.value("id"), nodeID: try row.value("node_id"), nodeName: try row.value("node_name"),
                time: Date(timeIntervalSince1970: try row.value("time")),
                severity: NodeNotification.Severity.allCases[min(max(rank, 0), 7)],
                source: NodeNotification.Source(rawValue: try row.value("source")) ?? .numbat,
                message: try row.value("message"), metadata: metadata)
        }
    }

    public func notificationCount() async throws -> Int {
        try await rows("SELECT COUNT(*) AS n FROM notification").first?.value("n", as: Int.self) ?? 0
    }
}
