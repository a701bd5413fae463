import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// Alert routing's I/O shell (issue 18 item 1): turns this server's alarm events into queued
/// deliveries (`AlertPlanner` decides which, to whom, when), and sends the due ones from the
/// store's queue, recording every attempt. The queue lives in the store, so alerts survive a
/// restart; deliveries are claimed for a while before sending, so servers sharing a store never
/// send one twice at once.
public final class AlertsService: NumbatService {
    public struct Settings: Sendable, Equatable {
        public var retry = AlertPlanner.Retry()
        /// How long a claimed delivery is this server's; a server gone mid-send leaves it due
        /// again after that.
        public var leaseSeconds: Double = 120
        /// The longest the queue goes without a look. It is looked at when an alarm here queues
        /// a delivery and when the next one queued is due (a held-back raise, a retry, a repeat,
        /// a lease that ran out), so this bounds only how late it finds what it was not told
        /// of: a delivery another server sharing the store queued and left.
        public var pollSeconds: Double = 30
        /// One HTTP request or SMTP conversation, at most.
        public var sendTimeoutSeconds: Double = 15
        public init() {}
    }

    public let name = "alerts"
    let store: any AlertRoutingStore & AlarmStore & AuditStore
    let nodes: any NodeReader & FamilyStore
    let bus: EventBus
    let logger: Logger
    let settings: Settings
    let planner: AlertPlanner
    let sender: AlertSender
    private let events = EventFollower()
    private let loop = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let queueSleep = LoopSleep()

    public init(context: ServiceContext, store: any AlertRoutingStore & AlarmStore & AuditStore, settings: Settings = Settings()) {
        self.store = store
        nodes = context.store
        bus = context.bus
        logger = context.logger
        self.settings = settings
        planner = AlertPlanner(retry: settings.retry)
        sender = AlertSender(timeout: settings.sendTimeoutSeconds)
    }

    public func start() async throws {
        events.follow(bus) { [weak self] event in
            guard let self, case .alarm(let change) = event else { return }
            await self.alarmChanged(change)
        }
        loop.withLockedValue { $0 = Task { await self.run() } }
    }

    public func stop() async {
        await events.stop()
        let task = loop.withLockedValue { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
    }

    /// Makes the queue be looked at now.
    func wake() { queueSleep.wake() }

    // MARK: Events into deliveries

    /// A raise (or escalation) queues its deliveries, held back for the rules' minimum
    /// duration; an acknowledgement or clear first holds back what it makes pointless, then
    /// follows up the raises that went (or will go) out.
    func alarmChanged(_ change: AlarmChange) async {
        let alarm = change.alarm
        let notice: AlertNotice.Event
        let sequence: Int
        let time: Date
        switch change.kind {
        case .raised: (notice, sequence, time) = (.raised, 0, alarm.raisedAt)
        case .escalated: (notice, sequence, time) = (.raised, alarm.raiseCount, alarm.lastRaisedAt)
        case .acknowledged: (notice, sequence, time) = (.acknowledged, 0, alarm.acknowledgedAt ?? Date())
        case .cleared: (notice, sequence, time) = (.cleared, 0, alarm.clearedAt ?? Date())
        case .repeated, .commented: return
        }
        do {
            let rules = try await store.alertRules()
            guard !rules.isEmpty else { return }
            let receivers = Set(try await store.alertReceivers().map(\.id))
            var family: NodeFamily?
            if let nodeID = alarm.nodeID, let familyID = try await nodes.node(id: nodeID)?.familyID {
                family = try await nodes.family(id: familyID)
            }
            let event = AlertNotice(event: notice, sequence: sequence, time: time, alarm: alarm, familyID: family?.id, familyName: family?.name)
            let now = Date()
            let planned: [AlertDelivery]
            if notice == .raised {
                planned = planner.raised(event, rules: rules, receivers: receivers, now: now)
            } else {
                _ = try await store.suppressAlertDeliveries(alarmID: alarm.id, events: AlertPlanner.heldBack(by: notice))
                let before = try await store.alertDeliveries(AlertDeliveryQuery(alarmID: alarm.id, limit: 10_000))
                let raisedTo = AlertPlanner.raisedTo(before).filter { receivers.contains($0.key) }
                planned = planner.followed(event, rules: rules, raisedTo: raisedTo, now: now)
            }
            guard !planned.isEmpty else { return }
            let queued = try await store.enqueueAlertDeliveries(planned)
            if !queued.isEmpty { wake() }
        } catch {
            logger.error("queueing alerts failed", metadata: ["alarm": "\(alarm.id)", "error": "\(error)"])
        }
    }

    // MARK: The queue

    /// Looks at the queue, sends what it took, and sleeps until the next delivery is due (or
    /// until woken): a server with nothing queued wakes once per `pollSeconds`, not once a
    /// second (half a millisecond of CPU a second on this project's machine,
    /// docs/benchmarks.md).
    private func run() async {
        while !Task.isCancelled {
            var claim = AlertClaim(deliveries: [], nextDue: nil)
            let now = Date()
            do {
                claim = try await store.claimAlertDeliveries(now: now, leaseUntil: now.addingTimeInterval(settings.leaseSeconds), limit: 16)
            } catch {
                if !Task.isCancelled { logger.warning("reading the alert queue failed", metadata: ["error": "\(error)"]) }
                claim.nextDue = now.addingTimeInterval(Self.retryAfterFailedLook)
            }
            if let seconds = AlertPlanner.sleep(after: claim, now: now, longest: settings.pollSeconds) {
                _ = await queueSleep.sleep(upTo: .milliseconds(Int((seconds * 1000).rounded(.up))))
                continue
            }
            await withTaskGroup(of: Void.self) { group in
                for delivery in claim.deliveries { group.addTask { await self.attempt(delivery) } }
            }
        }
    }

    /// After a look that failed (the store away), the next one.
    static let retryAfterFailedLook = 1.0

    /// Sends one claimed delivery and records how it went (and the repeat that follows).
    func attempt(_ claimed: AlertDelivery) async {
        do {
            var alarm: Alarm?
            if claimed.notice.event == .repeated || claimed.repeatIntervalSeconds != nil {
                alarm = try await store.alarm(id: claimed.alarmID)
            }
            guard AlertPlanner.stillWanted(claimed, alarm: alarm) else {
                var suppressed = claimed
                suppressed.status = .suppressed
                suppressed.leaseUntil = nil
                try await store.updateAlertDelivery(suppressed)
                return
            }
            let outcome: AlertPlanner.Outcome
            if let receiver = try await store.alertReceivers().first(where: { $0.id == claimed.receiverID }) {
                outcome = await sender.send(claimed, to: receiver, secret: try await store.alertReceiverSecret(id: receiver.id))
            } else {
                outcome = .failed("the receiver was removed", permanent: true)
            }
            if claimed.repeatIntervalSeconds != nil, case .delivered = outcome {
                alarm = try await store.alarm(id: claimed.alarmID)
            }
            let (delivery, next) = planner.attempted(claimed, outcome, now: Date(), stillRaised: alarm?.state == .new)
            try await store.updateAlertDelivery(delivery)
            if let next { _ = try await store.enqueueAlertDeliveries([next]) }
            if case .failed(let error, _) = outcome {
                logger.warning("alert not delivered", metadata: ["delivery": "\(delivery.id)", "attempts": "\(delivery.attempts)",
                                                                 "status": "\(delivery.status.rawValue)", "error": "\(error)"])
            }
        } catch {
            logger.error("an alert delivery failed to be recorded", metadata: ["delivery": "\(claimed.id)", "error": "\(error)"])
        }
    }

    /// `POST /api/alerts/receivers/{id}/test`: a test alert, sent now, once (no retry), and
    /// listed with the deliveries.
    public func test(_ receiver: AlertReceiver) async throws -> AlertDelivery {
        let now = Date()
        let alarm = Alarm(id: 0, nodeID: nil, nodeName: "numbat", key: "numbat_test", source: .numbat, severity: .warning,
                          summary: "a test alert from Numbat to \(receiver.name)", raisedAt: now)
        var delivery = AlertDelivery(id: "test-\(UUID().uuidString.lowercased())-\(receiver.id.uuidString.lowercased())", receiverID: receiver.id,
                                     ruleID: nil, alarmID: 0, notice: AlertNotice(event: .test, time: now, alarm: alarm), status: .sending,
                                     createdAt: now, nextAttemptAt: now, leaseUntil: now.addingTimeInterval(settings.leaseSeconds))
        _ = try await store.enqueueAlertDeliveries([delivery])
        var outcome = await sender.send(delivery, to: receiver, secret: try await store.alertReceiverSecret(id: receiver.id))
        if case .failed(let error, _) = outcome { outcome = .failed(error, permanent: true) }
        delivery = planner.attempted(delivery, outcome, now: Date(), stillRaised: false).delivery
        try await store.updateAlertDelivery(delivery)
        return delivery
    }
}
