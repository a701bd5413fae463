import Foundation
import GRDB
import NumbatCore

extension SQLiteStore: NotificationStore {
    public func appendNotifications(_ notifications: [NodeNotification], retain: Int) async throws -> [NodeNotification] {
        guard !notifications.isEmpty else { return [] }
        return try await pool.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO notification (node_id, node_name, time, severity, source, message, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            var stored: [NodeNotification] = []
            for var notification in notifications {
                let metadata = String(decoding: try JSONEncoder().encode(notification.metadata), as: UTF8.self)
                try insert.execute(arguments: [notification.nodeID, notification.nodeName, notification.time.timeIntervalSince1970,
                                               notification.severity.rank, notification.source.rawValue, notification.message, metadata])
                notification.id = db.lastInsertedRowID
                stored.append(notification)
            }
            // Retention: everything older than the newest `retain` ids goes.
            if let last = stored.last?.id, last > Int64(retain) {
                try db.execute(sql: "DELETE FROM notification WHERE id <= ?", arguments: [last - Int64(retain)])
            }
            return stored
        }
    }

    public func notifications(_ query: NotificationQuery) async throws -> [NodeNotification] {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let before = query.before { conditions.append("id < ?"); arguments.append(before) }
        if let nodes = query.nodes {
            conditions.append("node_id IN (\(nodes.map { _ in "?" }.joined(separator: ",")))")
            arguments += nodes.map { $0 as any DatabaseValueConvertible }
        }
        if let severity = query.severity { conditions.append("severity <= ?"); arguments.append(severity.rank) }
        if let from = query.from { conditions.append("time >= ?"); arguments.append(from.timeIntervalSince1970) }
        if let to = query.to { conditions.append("time <= ?"); arguments.append(to.timeIntervalSince1970) }
        if let text = query.text, !text.isEmpty {
            conditions.append("message LIKE ? ESCAPE '\\'")
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            arguments.append("%\(escaped)%")
        }
        let sql = "SELECT * FROM notification" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY id DESC LIMIT ?"
        arguments.append(query.limit)
        let statementArguments = StatementArguments(arguments.map { $0.databaseValue })
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                let metadataText: String = row["metadata"]
                let metadata = (try? JSONDecoder().decode([String: String].self, from: Data(metadataText.utf8))) ?? [:]
                let rank: Int = row["severity"]
                return NodeNotification(
                    id: row["id"], nodeID: row["node_id"], nodeName: row["node_name"],
                    time: Date(timeIntervalSince1970: row["time"]),
                    severity: NodeNotification.Severity.allCases[min(max(rank, 0), 7)],
                    source: NodeNotification.Source(rawValue: row["source"]) ?? .numbat,
                    message: row["message"], metadata: metadata)
            }
        }
    }

    public func notificationCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notification") ?? 0 }
    }
}
