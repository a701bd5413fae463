import Foundation

/// Storage of alert routing: rules, receivers (each with its secret sealed apart) and the
/// delivery queue. The queue is what makes alerts survive a restart and go out once: a
/// delivery's id is its idempotency key, inserted at most once, and servers take due ones by
/// claiming them for a while (`leaseUntil`), so two servers never send the same one at once.
public protocol AlertRoutingStore: Sendable {
    /// Inserts or replaces the rule.
    func putAlertRule(_ rule: AlertRule) async throws
    /// Oldest first.
    func alertRules() async throws -> [AlertRule]
    func deleteAlertRule(id: UUID) async throws -> Bool

    /// Inserts or replaces the receiver; its secret is kept.
    func putAlertReceiver(_ receiver: AlertReceiver) async throws
    /// Oldest first.
    func alertReceivers() async throws -> [AlertReceiver]
    /// Seals and stores the secret (nil: removes it); throws `NumbatError` `receiver_not_found`.
    func setAlertReceiverSecret(id: UUID, secret: String?) async throws
    /// The secret, unsealed, for sending.
    func alertReceiverSecret(id: UUID) async throws -> String?
    /// Removes the receiver and its queued deliveries' claim on it (they fail as undeliverable).
    func deleteAlertReceiver(id: UUID) async throws -> Bool

    /// Queues the deliveries whose ids are not queued yet and returns those (the others were
    /// queued before: the same event again).
    func enqueueAlertDeliveries(_ deliveries: [AlertDelivery]) async throws -> [AlertDelivery]
    /// Takes up to `limit` due deliveries (pending with `nextAttemptAt <= now`, or sending with
    /// an expired lease: a server that stopped mid-send), oldest due first, marking them sending
    /// until `leaseUntil`, in one transaction; and says when the next of those it left becomes
    /// due, so the queue is looked at then rather than polled.
    func claimAlertDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> AlertClaim
    /// Stores the delivery's status, attempts, error and times.
    func updateAlertDelivery(_ delivery: AlertDelivery) async throws
    /// Marks the alarm's pending deliveries of `events` suppressed (nothing sending or sent is
    /// touched) and returns those it marked.
    func suppressAlertDeliveries(alarmID: Int64, events: Set<AlertNotice.Event>) async throws -> [AlertDelivery]
    /// Newest first.
    func alertDeliveries(_ query: AlertDeliveryQuery) async throws -> [AlertDelivery]
}

/// What one look at the alert queue took, and when to look again.
public struct AlertClaim: Sendable, Equatable {
    /// Marked sending, this server's until their lease ends.
    public var deliveries: [AlertDelivery]
    /// The earliest time a delivery left in the queue becomes due: a pending one's next
    /// attempt or a sending one's lease end (nil: none is waiting). At or before `now` when
    /// more were due than the limit took, or when another server holds them at this moment.
    public var nextDue: Date?

    public init(deliveries: [AlertDelivery], nextDue: Date?) {
        self.deliveries = deliveries
        self.nextDue = nextDue
    }
}
