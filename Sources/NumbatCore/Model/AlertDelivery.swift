import Foundation

/// What an alert says: one event of one alarm, as it was when it happened. Kept with each
/// delivery, so a delivery retried after a restart sends what it would have sent at first.
public struct AlertNotice: Codable, Sendable, Equatable {
    public enum Event: String, Codable, Sendable {
        case raised, repeated, acknowledged, cleared, test
    }

    public var event: Event
    /// 0 for the first raise; the repeat's number for repeats; the raise count for a raise
    /// at a higher severity (escalation), so each is a delivery of its own.
    public var sequence: Int
    public var time: Date
    public var alarm: Alarm
    /// The node's family, for matching and for Alertmanager's labels.
    public var familyID: UUID?
    public var familyName: String?

    public init(event: Event, sequence: Int = 0, time: Date, alarm: Alarm, familyID: UUID? = nil, familyName: String? = nil) {
        self.event = event
        self.sequence = sequence
        self.time = time
        self.alarm = alarm
        self.familyID = familyID
        self.familyName = familyName
    }

    enum CodingKeys: String, CodingKey {
        case event, sequence, time, alarm
        case familyID = "family"
        case familyName = "family_name"
    }
}

/// One alert for one receiver, queued in the store. Its `id` is the idempotency key: the alarm,
/// the event (with the repeat's number) and the receiver, so the same event reaching the
/// queue twice (a server restarting, two servers of a cluster) is one delivery.
public struct AlertDelivery: Codable, Sendable, Equatable, Identifiable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        /// Waiting for its time (the rule's minimum duration, or the next retry).
        case pending
        /// Being sent by a server, until `leaseUntil`; then due again.
        case sending
        case delivered
        /// Attempts exhausted, or the receiver refused it for good (4xx).
        case failed
        /// Not sent: the alarm cleared within the minimum duration, or stopped repeating.
        case suppressed
    }

    public var id: String
    public var receiverID: UUID
    public var ruleID: UUID?
    public var alarmID: Int64
    public var notice: AlertNotice
    /// Sent again while the alarm stays raised (the rule's repeat interval); nil: once.
    public var repeatIntervalSeconds: Double?
    public var status: Status
    public var attempts: Int
    public var lastError: String?
    public var createdAt: Date
    public var nextAttemptAt: Date
    public var lastAttemptAt: Date?
    public var deliveredAt: Date?
    public var leaseUntil: Date?

    public init(id: String, receiverID: UUID, ruleID: UUID?, alarmID: Int64, notice: AlertNotice, repeatIntervalSeconds: Double? = nil,
                status: Status = .pending, attempts: Int = 0, lastError: String? = nil, createdAt: Date, nextAttemptAt: Date,
                lastAttemptAt: Date? = nil, deliveredAt: Date? = nil, leaseUntil: Date? = nil) {
        self.id = id
        self.receiverID = receiverID
        self.ruleID = ruleID
        self.alarmID = alarmID
        self.notice = notice
        self.repeatIntervalSeconds = repeatIntervalSeconds
        self.status = status
        self.attempts = attempts
        self.lastError = lastError
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.lastAttemptAt = lastAttemptAt
        self.deliveredAt = deliveredAt
        self.leaseUntil = leaseUntil
    }

    enum CodingKeys: String, CodingKey {
        case id, notice, status, attempts
        case receiverID = "receiver"
        case ruleID = "rule"
        case alarmID = "alarm"
        case repeatIntervalSeconds = "repeat_interval_seconds"
        case lastError = "last_error"
        case createdAt = "created_at"
        case nextAttemptAt = "next_attempt_at"
        case lastAttemptAt = "last_attempt_at"
        case deliveredAt = "delivered_at"
        case leaseUntil = "lease_until"
    }
}

/// `GET /api/alerts/deliveries` filters: newest first.
public struct AlertDeliveryQuery: Sendable, Equatable {
    public var receiverID: UUID?
    public var alarmID: Int64?
    public var statuses: Set<AlertDelivery.Status>?
    public var limit: Int

    public init(receiverID: UUID? = nil, alarmID: Int64? = nil, statuses: Set<AlertDelivery.Status>? = nil, limit: Int = 100) {
        self.receiverID = receiverID
        self.alarmID = alarmID
        self.statuses = statuses
        self.limit = limit
    }
}
