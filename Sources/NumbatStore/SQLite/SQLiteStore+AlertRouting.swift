import Foundation
import GRDB
import NumbatCore

extension SQLiteStore: AlertRoutingStore {
    public func putAlertRule(_ rule: AlertRule) async throws {
        let body = try AlertRoutingRows.encode(rule)
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO alert_rule (id, body, created_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body
                """, arguments: [rule.id, body, rule.createdAt.timeIntervalSince1970])
        }
    }

    public func alertRules() async throws -> [AlertRule] {
        let bodies = try await pool.read { db in try Data.fetchAll(db, sql: "SELECT body FROM alert_rule ORDER BY created_at, rowid") }
        return try bodies.map { try AlertRoutingRows.decode(AlertRule.self, $0) }
    }

    public func deleteAlertRule(id: UUID) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM alert_rule WHERE id = ?", arguments: [id])
            return db.changesCount == 1
        }
    }

    public func putAlertReceiver(_ receiver: AlertReceiver) async throws {
        let body = try AlertRoutingRows.encode(receiver)
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO alert_receiver (id, body, created_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body
                """, arguments: [receiver.id, body, receiver.createdAt.timeIntervalSince1970])
        }
    }

    public func alertReceivers() async throws -> [AlertReceiver] {
        let bodies = try await pool.read { db in try Data.fetchAll(db, sql: "SELECT body FROM alert_receiver ORDER BY created_at, rowid") }
        return try bodies.map { try AlertRoutingRows.decode(AlertReceiver.self, $0) }
    }

    public func setAlertReceiverSecret(id: UUID, secret: String?) async throws {
        let sealed = try secret.map { try secrets.seal($0) }
        try await pool.write { db in
            try db.execute(sql: "UPDATE alert_receiver SET secret_sealed = ? WHERE id = ?", arguments: [sealed, id])
            guard db.changesCount == 1 else { throw AlertRoutingRows.receiverNotFound(id) }
        }
    }

    public func alertReceiverSecret(id: UUID) async throws -> String? {
        let sealed = try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT secret_sealed FROM alert_receiver WHERE id = ?", arguments: [id])
        }
        return try sealed.map { try secrets.open($0) }
    }

    public func deleteAlertReceiver(id: UUID) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM alert_receiver WHERE id = ?", arguments: [id])
            return db.changesCount == 1
        }
    }

    public func enqueueAlertDeliveries(_ deliveries: [AlertDelivery]) async throws -> [AlertDelivery] {
        let rows = try deliveries.map { ($0, try AlertRoutingRows.encode($0)) }
        return try await pool.write { db in
            var queued: [AlertDelivery] = []
            for (delivery, body) in rows {
                try db.execute(sql: """
                    INSERT INTO alert_delivery (id, receiver_id, alarm_id, event, status, next_attempt_at, lease_until, body)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
                    """, arguments: [delivery.id, delivery.receiverID, delivery.alarmID, delivery.notice.event.rawValue, delivery.status.rawValue,
                                     delivery.nextAttemptAt.timeIntervalSince1970, delivery.leaseUntil?.timeIntervalSince1970, body])
                if db.changesCount == 1 { queued.append(delivery) }
            }
            return queued
        }
    }

    public func claimAlertDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> AlertClaim {
        // A read when nothing is due, no write transaction, through a statement prepared once
        // (parsing it at each look cost 170,000 instructions, 4 % of the server's at five nodes
        // collected each second: scripts/callgrind-metrics.sh).
        let seconds = now.timeIntervalSince1970
        let nextDue = try await pool.read { db in try Self.nextDue(db) }
        guard let nextDue, nextDue <= seconds else { return AlertClaim(deliveries: [], nextDue: nextDue.map(Date.init(timeIntervalSince1970:))) }
        return try await pool.write { db in
            let bodies = try Data.fetchAll(db, sql: """
                SELECT body FROM alert_delivery WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?)
                ORDER BY next_attempt_at, position LIMIT ?
                """, arguments: [seconds, seconds, limit])
            let claimed = try bodies.map { body in
                var delivery = try AlertRoutingRows.decode(AlertDelivery.self, body)
                delivery.status = .sending
                delivery.leaseUntil = leaseUntil
                try Self.update(db, delivery)
                return delivery
            }
            return AlertClaim(deliveries: claimed, nextDue: try Self.nextDue(db).map(Date.init(timeIntervalSince1970:)))
        }
    }

    /// The earliest next attempt of a pending delivery or lease end of a sending one, in
    /// seconds since 1970: the first from the due index's first entry, the second over the
    /// few deliveries being sent.
    private static func nextDue(_ db: Database) throws -> Double? {
        let statement = try db.cachedStatement(sql: """
            SELECT MIN(due) FROM (SELECT MIN(next_attempt_at) AS due FROM alert_delivery WHERE status = 'pending'
                                  UNION ALL SELECT MIN(lease_until) FROM alert_delivery WHERE status = 'sending')
            """)
        return try Double.fetchOne(statement)
    }

    public func updateAlertDelivery(_ delivery: AlertDelivery) async throws {
        try await pool.write { db in try Self.update(db, delivery) }
    }

    public func suppressAlertDeliveries(alarmID: Int64, events: Set<AlertNotice.Event>) async throws -> [AlertDelivery] {
        guard !events.isEmpty else { return [] }
        let names = events.map(\.rawValue)
        return try await pool.write { db in
            let bodies = try Data.fetchAll(db, sql: """
                SELECT body FROM alert_delivery WHERE alarm_id = ? AND status = 'pending' AND event IN (\(names.map { _ in "?" }.joined(separator: ",")))
                ORDER BY position
                """, arguments: StatementArguments(([alarmID as any DatabaseValueConvertible] + names.map { $0 as any DatabaseValueConvertible }).map(\.databaseValue)))
            return try bodies.map { body in
                var delivery = try AlertRoutingRows.decode(AlertDelivery.self, body)
                delivery.status = .suppressed
                try Self.update(db, delivery)
                return delivery
            }
        }
    }

    public func alertDeliveries(_ query: AlertDeliveryQuery) async throws -> [AlertDelivery] {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let receiver = query.receiverID { conditions.append("receiver_id = ?"); arguments.append(receiver) }
        if let alarm = query.alarmID { conditions.append("alarm_id = ?"); arguments.append(alarm) }
        if let statuses = query.statuses {
            conditions.append("status IN (\(statuses.map { _ in "?" }.joined(separator: ",")))")
            arguments += statuses.map { $0.rawValue as any DatabaseValueConvertible }
        }
        let sql = "SELECT body FROM alert_delivery" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY position DESC LIMIT ?"
        arguments.append(query.limit)
        let statementArguments = StatementArguments(arguments.map { $0.databaseValue })
        let bodies = try await pool.read { db in try Data.fetchAll(db, sql: sql, arguments: statementArguments) }
        return try bodies.map { try AlertRoutingRows.decode(AlertDelivery.self, $0) }
    }

    private static func update(_ db: Database, _ delivery: AlertDelivery) throws {
        try db.execute(sql: "UPDATE alert_delivery SET status = ?, next_attempt_at = ?, lease_until = ?, body = ? WHERE id = ?",
                       arguments: [delivery.status.rawValue, delivery.nextAttemptAt.timeIntervalSince1970, delivery.leaseUntil?.timeIntervalSince1970,
                                   try AlertRoutingRows.encode(delivery), delivery.id])
    }
}

/// The JSON documents of alert routing's rows, the same in both stores.
enum AlertRoutingRows {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }

    static func receiverNotFound(_ id: UUID) -> NumbatError {
        .notFound("receiver_not_found", "no alert receiver has id \(id)")
    }
}
