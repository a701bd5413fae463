import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: AlertRoutingStore {
    public func putAlertRule(_ rule: AlertRule) async throws {
        let body = try AlertRoutingRows.encode(rule)
        try await client.query("""
            INSERT INTO alert_rule (id, body, created_at) VALUES (\(rule.id), \(body), \(rule.createdAt.timeIntervalSince1970))
            ON CONFLICT (id) DO UPDATE SET body = excluded.body
            """, logger: logger)
    }

    public func alertRules() async throws -> [AlertRule] {
        try await rows("SELECT body FROM alert_rule ORDER BY created_at, id").map { try AlertRoutingRows.decode(AlertRule.self, try $0.value("body")) }
    }

    public func deleteAlertRule(id: UUID) async throws -> Bool {
        try await !rows("DELETE FROM alert_rule WHERE id = \(id) RETURNING id").isEmpty
    }

    public func putAlertReceiver(_ receiver: AlertReceiver) async throws {
        let body = try AlertRoutingRows.encode(receiver)
        try await client.query("""
            INSERT INTO alert_receiver (id, body, created_at) VALUES (\(receiver.id), \(body), \(receiver.createdAt.timeIntervalSince1970))
            ON CONFLICT (id) DO UPDATE SET body = excluded.body
            """, logger: logger)
    }

    public func alertReceivers() async throws -> [AlertReceiver] {
        try await rows("SELECT body FROM alert_receiver ORDER BY created_at, id").map { try AlertRoutingRows.decode(AlertReceiver.self, try $0.value("body")) }
    }

    public func setAlertReceiverSecret(id: UUID, secret: String?) async throws {
        let sealed = try secret.map { try secrets.seal($0) }
        let updated = try await rows("UPDATE alert_receiver SET secret_sealed = \(sealed) WHERE id = \(id) RETURNING id")
        guard updated.count == 1 else { throw AlertRoutingRows.receiverNotFound(id) }
    }

    public func alertReceiverSecret(id: UUID) async throws -> String? {
        guard let row = try await rows("SELECT secret_sealed FROM alert_receiver WHERE id = \(id)").first,
              let sealed = try row.value("secret_sealed", as: Data?.self)
        else { return nil }
        return try secrets.open(sealed)
    }

    public func deleteAlertReceiver(id: UUID) async throws -> Bool {
        try await !rows("DELETE FROM alert_receiver WHERE id = \(id) RETURNING id").isEmpty
    }

    public func enqueueAlertDeliveries(_ deliveries: [AlertDelivery]) async throws -> [AlertDelivery] {
        let rows = try deliveries.map { ($0, try AlertRoutingRows.encode($0)) }
        let logger = self.logger
        return try await transaction { connection in
            var queued: [AlertDelivery] = []
            for (delivery, body) in rows {
                let inserted = try await Self.rows("""
                    INSERT INTO alert_delivery (id, receiver_id, alarm_id, event, status, next_attempt_at, lease_until, body)
                    VALUES (\(delivery.id), \(delivery.receiverID), \(delivery.alarmID), \(delivery.notice.event.rawValue), \(delivery.status.rawValue),
                            \(delivery.nextAttemptAt.timeIntervalSince1970), \(delivery.leaseUntil?.timeIntervalSince1970), \(body))
                    ON CONFLICT (id) DO NOTHING RETURNING id
                    """, on: connection, logger: logger)
                if !inserted.isEmpty { queued.append(delivery) }
            }
            return queued
        }
    }

    /// `FOR UPDATE SKIP LOCKED`: servers claiming at once each take different deliveries.
    public func claimAlertDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> AlertClaim {
        let logger = self.logger
        let seconds = now.timeIntervalSince1970
        return try await transaction { connection in
            let found = try await Self.rows("""
                SELECT body FROM alert_delivery
                WHERE (status = 'pending' AND next_attempt_at <= \(seconds)) OR (status = 'sending' AND lease_until <= \(seconds))
                ORDER BY next_attempt_at, position LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, on: connection, logger: logger)
            var claimed: [AlertDelivery] = []
            for row in found {
                var delivery = try AlertRoutingRows.decode(AlertDelivery.self, try row.value("body"))
                delivery.status = .sending
                delivery.leaseUntil = leaseUntil
                try await Self.update(connection, delivery, logger: logger)
                claimed.append(delivery)
            }
            // Rows another server is claiming at this moment read as they were (still due): the
            // queue then looks again shortly, and finds them taken.
            let next = try await Self.rows("""
                SELECT MIN(due) AS due FROM (SELECT MIN(next_attempt_at) AS due FROM alert_delivery WHERE status = 'pending'
                                             UNION ALL SELECT MIN(lease_until) FROM alert_delivery WHERE status = 'sending') AS dues
                """, on: connection, logger: logger)
            let due = try next.first.flatMap { try $0.value("due", as: Double?.self) }
            return AlertClaim(deliveries: claimed, nextDue: due.map(Date.init(timeIntervalSince1970:)))
        }
    }

    public func updateAlertDelivery(_ delivery: AlertDelivery) async throws {
        let logger = self.logger
        try await transaction { connection in try await Self.update(connection, delivery, logger: logger) }
    }

    public func suppressAlertDeliveries(alarmID: Int64, events: Set<AlertNotice.Event>) async throws -> [AlertDelivery] {
        guard !events.isEmpty else { return [] }
        let names = events.map(\.rawValue)
        let logger = self.logger
        return try await transaction { connection in
            let found = try await Self.rows("""
                SELECT body FROM alert_delivery WHERE alarm_id = \(alarmID) AND status = 'pending' AND event = ANY(\(names))
                ORDER BY position FOR UPDATE
                """, on: connection, logger: logger)
            var suppressed: [AlertDelivery] = []
            for row in found {
                var delivery = try AlertRoutingRows.decode(AlertDelivery.self, try row.value("body"))
                delivery.status = .suppressed
                try await Self.update(connection, delivery, logger: logger)
                suppressed.append(delivery)
            }
            return suppressed
        }
    }

    public func alertDeliveries(_ query: AlertDeliveryQuery) async throws -> [AlertDelivery] {
        let statuses = query.statuses.map { $0.map(\.rawValue) }
        let found = try await rows("""
            SELECT body FROM alert_delivery
            WHERE (\(query.receiverID)::uuid IS NULL OR receiver_id = \(query.receiverID))
              AND (\(query.alarmID)::bigint IS NULL OR alarm_id = \(query.alarmID))
              AND (\(statuses)::text[] IS NULL OR status = ANY(\(statuses)))
            ORDER BY position DESC LIMIT \(query.limit)
            """)
        return try found.map { try AlertRoutingRows.decode(AlertDelivery.self, try $0.value("body")) }
    }

    private static func update(_ connection: PostgresConnection, _ delivery: AlertDelivery, logger: Logger) async throws {
        let body = try AlertRoutingRows.encode(delivery)
        try await connection.query("""
            UPDATE alert_delivery SET status = \(delivery.status.rawValue), next_attempt_at = \(delivery.nextAttemptAt.timeIntervalSince1970),
                lease_until = \(delivery.leaseUntil?.timeIntervalSince1970), body = \(body)
            WHERE id = \(delivery.id)
            """, logger: logger)
    }
}
