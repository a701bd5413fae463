import Foundation
import NumbatCore

/// Alert routing's decisions, with no I/O (`AlertsService` does the reading, sending and
/// storing): which receivers an alarm event goes to and when, what a clear or an
/// acknowledgement holds back, what follows an attempt (done, retried later, given up, repeated).
///
/// Delivery ids are idempotency keys (`deliveryID`): the same event planned twice (a restart,
/// two servers of a cluster) gives the same ids, and the store queues each id once.
public struct AlertPlanner: Sendable, Equatable {
    /// The retry schedule: `initialSeconds`, doubled after each failure up to `maximumSeconds`,
    /// given up after `maximumAttempts`.
    public struct Retry: Sendable, Equatable {
        public var initialSeconds: Double = 2
        public var maximumSeconds: Double = 300
        public var maximumAttempts = 15
        public init() {}

        /// The wait after the `attempts`-th failed attempt (1-based).
        public func delay(afterAttempts attempts: Int) -> Double {
            let doublings = Double(max(0, min(attempts - 1, 60)))
            return min(initialSeconds * pow(2, doublings), maximumSeconds)
        }
    }

    /// How an attempt ended.
    public enum Outcome: Sendable, Equatable {
        case delivered
        /// `permanent`: the receiver refused the alert itself (a 4xx other than 408 and 429):
        /// sending it again would be refused again.
        case failed(String, permanent: Bool)
    }

    public var retry = Retry()

    public init(retry: Retry = Retry()) {
        self.retry = retry
    }

    /// The idempotency key of one event of one alarm for one receiver.
    public static func deliveryID(alarmID: Int64, event: AlertNotice.Event, sequence: Int, receiver: UUID) -> String {
        "alarm-\(alarmID)-\(event.rawValue)-\(sequence)-\(receiver.uuidString.lowercased())"
    }

    /// Whether the rule covers the alarm (on a node of `familyID`). Disabled rules cover nothing.
    public static func matches(_ rule: AlertRule, _ alarm: Alarm, familyID: UUID?) -> Bool {
        guard rule.enabled else { return false }
        if let minimum = rule.minimumSeverity, alarm.severity < minimum { return false }
        if !rule.keys.isEmpty, !rule.keys.contains(where: { Self.glob($0, matches: alarm.key) }) { return false }
        if !rule.nodes.isEmpty, !rule.nodes.contains(alarm.nodeName) { return false }
        if !rule.families.isEmpty {
            guard let familyID, rule.families.contains(familyID) else { return false }
        }
        return true
    }

    /// `*` matches any run of characters (none too); everything else matches itself.
    public static func glob(_ pattern: String, matches text: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return pattern == text }
        guard text.hasPrefix(parts[0]) else { return false }
        var rest = text.dropFirst(parts[0].count)
        for (index, part) in parts.enumerated().dropFirst() {
            if index == parts.count - 1 { return part.isEmpty || rest.hasSuffix(part) && rest.count >= part.count }
            guard !part.isEmpty else { continue }
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }

    /// What the rules say for one receiver: its smallest minimum duration and repeat interval
    /// among the matching rules that send `event`, and the first such rule.
    struct Route: Equatable {
        var rule: UUID
        var minimumDuration: Double
        var repeatInterval: Double?
    }

    static func routes(_ notice: AlertNotice, event: AlertRule.Event, rules: [AlertRule], receivers: Set<UUID>) -> [UUID: Route] {
        var routes: [UUID: Route] = [:]
        for rule in rules where rule.events.contains(event) && matches(rule, notice.alarm, familyID: notice.familyID) {
            for receiver in rule.receivers where receivers.contains(receiver) {
                guard var route = routes[receiver] else {
                    routes[receiver] = Route(rule: rule.id, minimumDuration: rule.minimumDurationSeconds, repeatInterval: rule.repeatIntervalSeconds)
                    continue
                }
                route.minimumDuration = min(route.minimumDuration, rule.minimumDurationSeconds)
                if let interval = rule.repeatIntervalSeconds { route.repeatInterval = min(route.repeatInterval ?? interval, interval) }
                routes[receiver] = route
            }
        }
        return routes
    }

    /// The deliveries of a raise (first, or escalated to a higher severity): to every receiver
    /// of a matching rule, held back until the rule's minimum duration has passed since the raise.
    public func raised(_ notice: AlertNotice, rules: [AlertRule], receivers: Set<UUID>, now: Date) -> [AlertDelivery] {
        Self.routes(notice, event: .raised, rules: rules, receivers: receivers).sorted { $0.key.uuidString < $1.key.uuidString }.map { receiver, route in
            let due = max(now, notice.alarm.raisedAt.addingTimeInterval(route.minimumDuration))
            return AlertDelivery(id: Self.deliveryID(alarmID: notice.alarm.id, event: notice.event, sequence: notice.sequence, receiver: receiver),
                                 receiverID: receiver, ruleID: route.rule, alarmID: notice.alarm.id, notice: notice,
                                 repeatIntervalSeconds: route.repeatInterval, createdAt: now, nextAttemptAt: due)
        }
    }

    /// The deliveries of an acknowledgement or a clear: only to receivers that were sent the
    /// raise (or will be: `raisedTo` maps each to when its raise is due), never before the raise.
    /// The caller first suppresses what is held back (`heldBack(by:)`), so an alarm cleared within
    /// the minimum duration has no raise left, and no clear goes out either.
    public func followed(_ notice: AlertNotice, rules: [AlertRule], raisedTo: [UUID: Date], now: Date) -> [AlertDelivery] {
        let event: AlertRule.Event = notice.event == .cleared ? .cleared : .acknowledged
        return Self.routes(notice, event: event, rules: rules, receivers: Set(raisedTo.keys)).sorted { $0.key.uuidString < $1.key.uuidString }.map { receiver, route in
            AlertDelivery(id: Self.deliveryID(alarmID: notice.alarm.id, event: notice.event, sequence: notice.sequence, receiver: receiver),
                          receiverID: receiver, ruleID: route.rule, alarmID: notice.alarm.id, notice: notice, createdAt: now,
                          nextAttemptAt: max(now, raisedTo[receiver] ?? now))
        }
    }

    /// The alarm's pending deliveries an event holds back: a clear, every raise and repeat not
    /// sent yet (within the minimum duration: never sent at all); an acknowledgement, the repeats.
    public static func heldBack(by event: AlertNotice.Event) -> Set<AlertNotice.Event> {
        switch event {
        case .cleared: [.raised, .repeated]
        case .acknowledged: [.repeated]
        default: []
        }
    }

    /// The receivers an acknowledgement or clear follows up: those with a raise of the alarm
    /// that was not suppressed, each with when that raise is due (or was sent).
    public static func raisedTo(_ deliveries: [AlertDelivery]) -> [UUID: Date] {
        var raised: [UUID: Date] = [:]
        for delivery in deliveries where delivery.notice.event == .raised && delivery.status != .suppressed {
            raised[delivery.receiverID] = min(raised[delivery.receiverID] ?? .distantFuture, delivery.deliveredAt ?? delivery.nextAttemptAt)
        }
        return raised
    }

    /// A delivery after an attempt (it was claimed: `sending`), and the repeat that follows a
    /// delivered raise or repeat while the alarm is still raised and not acknowledged
    /// (`stillRaised`), after the delivery's repeat interval.
    public func attempted(_ claimed: AlertDelivery, _ outcome: Outcome, now: Date, stillRaised: Bool) -> (delivery: AlertDelivery, repeat: AlertDelivery?) {
        var delivery = claimed
        delivery.attempts += 1
        delivery.lastAttemptAt = now
        delivery.leaseUntil = nil
        switch outcome {
        case .delivered:
            delivery.status = .delivered
            delivery.deliveredAt = now
            delivery.lastError = nil
            guard stillRaised, let interval = delivery.repeatIntervalSeconds,
                  delivery.notice.event == .raised || delivery.notice.event == .repeated else { return (delivery, nil) }
            var notice = delivery.notice
            notice.sequence = notice.event == .repeated ? notice.sequence + 1 : 1
            notice.event = .repeated
            notice.time = now.addingTimeInterval(interval)
            let next = AlertDelivery(id: Self.deliveryID(alarmID: delivery.alarmID, event: .repeated, sequence: notice.sequence, receiver: delivery.receiverID),
                                     receiverID: delivery.receiverID, ruleID: delivery.ruleID, alarmID: delivery.alarmID, notice: notice,
                                     repeatIntervalSeconds: interval, createdAt: now, nextAttemptAt: notice.time)
            return (delivery, next)
        case .failed(let error, let permanent):
            delivery.lastError = error
            if permanent || delivery.attempts >= retry.maximumAttempts {
                delivery.status = .failed
            } else {
                delivery.status = .pending
                delivery.nextAttemptAt = now.addingTimeInterval(retry.delay(afterAttempts: delivery.attempts))
            }
            return (delivery, nil)
        }
    }

    /// Whether a claimed delivery is still worth sending: a repeat is not once its alarm has
    /// cleared or been acknowledged (it was queued before that happened).
    public static func stillWanted(_ delivery: AlertDelivery, alarm: Alarm?) -> Bool {
        guard delivery.notice.event == .repeated else { return true }
        guard let alarm else { return false }
        return alarm.state == .new
    }

    /// The status an HTTP answer means: 2xx delivered; 408, 429 and 5xx worth retrying; any
    /// other refusal permanent.
    public static func outcome(httpStatus status: Int, body: String) -> Outcome {
        if (200..<300).contains(status) { return .delivered }
        let text = "HTTP \(status)" + (body.isEmpty ? "" : ": " + String(body.prefix(300)))
        let permanent = (400..<500).contains(status) && status != 408 && status != 429
        return .failed(text, permanent: permanent)
    }

    // MARK: The queue's looks

    /// How long the queue sleeps after a look (nil: it sends what it took, then looks again at
    /// once): until the next delivery is due, at most `longest`, and at least `shortestSleep`,
    /// so a delivery due but held by another server at that moment is not asked for in a spin.
    public static func sleep(after claim: AlertClaim, now: Date, longest: Double) -> Double? {
        guard claim.deliveries.isEmpty else { return nil }
        guard let due = claim.nextDue else { return longest }
        return min(longest, max(shortestSleep, due.timeIntervalSince(now)))
    }

    public static let shortestSleep = 0.05
}
