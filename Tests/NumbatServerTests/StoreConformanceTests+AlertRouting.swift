import Foundation
import NumbatCore
import NumbatStore
import Testing

extension StoreConformanceTests {
    @Test("alert routing: rules and receivers round trip, secrets sealed, deliveries queued once, claimed with a lease, suppressed, listed",
          arguments: StoreBackend.allCases)
    func alertRouting(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let hook = AlertReceiver(name: "hook", kind: .webhook, url: "http://127.0.0.1:9/hook", createdAt: Self.t0)
            var mail = AlertReceiver(name: "mail", kind: .email, smtpHost: "127.0.0.1", smtpPort: 2525, smtpSecurity: .starttls, smtpUser: "ops",
                                     from: "numbat@example.org", to: ["ops@example.org"], createdAt: Self.t0.addingTimeInterval(1))
            try await store.putAlertReceiver(hook)
            try await store.putAlertReceiver(mail)
            #expect(try await store.alertReceivers() == [hook, mail])
            mail.to.append("dev@example.org")
            try await store.putAlertReceiver(mail)
            #expect(try await store.alertReceivers() == [hook, mail])

            // Secrets: sealed in the row, opened only by the store, kept when the receiver changes.
            let key = "hmac-key-\(UUID().uuidString)"
            try await store.setAlertReceiverSecret(id: hook.id, secret: key)
            try await store.putAlertReceiver(hook)
            #expect(try await store.alertReceiverSecret(id: hook.id) == key)
            #expect(try await store.alertReceiverSecret(id: mail.id) == nil)
            let raw = try await fixture.rawHex("SELECT secret_sealed FROM alert_receiver WHERE secret_sealed IS NOT NULL")
            #expect(raw.count == 1 && !raw[0].contains(Data(key.utf8).storeHex))
            let missing = await #expect(throws: NumbatError.self) { try await store.setAlertReceiverSecret(id: UUID(), secret: "x") }
            #expect(missing?.code == "receiver_not_found")
            let reopened = try await fixture.reopen()
            #expect(try await reopened.alertReceiverSecret(id: hook.id) == key)
            try await reopened.shutdown()
            try await store.setAlertReceiverSecret(id: hook.id, secret: nil)
            #expect(try await store.alertReceiverSecret(id: hook.id) == nil)

            var rule = AlertRule(name: "majors", minimumSeverity: .major, keys: ["sasl:*"], minimumDurationSeconds: 5, repeatIntervalSeconds: 60,
                                 receivers: [hook.id, mail.id], createdAt: Self.t0)
            let other = AlertRule(name: "all", receivers: [hook.id], createdAt: Self.t0.addingTimeInterval(1))
            try await store.putAlertRule(rule)
            try await store.putAlertRule(other)
            rule.enabled = false
            try await store.putAlertRule(rule)
            #expect(try await store.alertRules() == [rule, other])
            #expect(try await store.deleteAlertRule(id: other.id))
            #expect(try await store.deleteAlertRule(id: other.id) == false)
            #expect(try await store.alertRules() == [rule])

            // The queue: an id queued once, whoever queues it again.
            let alarm = Alarm(id: 3, nodeID: UUID(), nodeName: "a@h", key: "sasl:x", source: .sasl, severity: .major, summary: "x", raisedAt: Self.t0)
            func delivery(_ event: AlertNotice.Event, _ receiver: UUID, due seconds: Double) -> AlertDelivery {
                AlertDelivery(id: "alarm-3-\(event.rawValue)-0-\(receiver)", receiverID: receiver, ruleID: rule.id, alarmID: 3,
                              notice: AlertNotice(event: event, time: Self.t0, alarm: alarm), repeatIntervalSeconds: 60, createdAt: Self.t0,
                              nextAttemptAt: Self.t0.addingTimeInterval(seconds))
            }
            let raiseHook = delivery(.raised, hook.id, due: 0)
            let raiseMail = delivery(.raised, mail.id, due: 10)
            let repeatHook = delivery(.repeated, hook.id, due: 100)
            #expect(try await store.enqueueAlertDeliveries([raiseHook, raiseMail]) == [raiseHook, raiseMail])
            #expect(try await store.enqueueAlertDeliveries([raiseHook, repeatHook]) == [repeatHook])

            // Claims: due ones only, oldest due first, each by one claimer until its lease ends;
            // each look says when the next one left is due (a next attempt or a lease's end).
            let lease = Self.t0.addingTimeInterval(60)
            let early = try await store.claimAlertDeliveries(now: Self.t0.addingTimeInterval(-5), leaseUntil: lease, limit: 10)
            #expect(early == AlertClaim(deliveries: [], nextDue: Self.t0), "\(early)")
            let first = try await store.claimAlertDeliveries(now: Self.t0.addingTimeInterval(10), leaseUntil: lease, limit: 1)
            #expect(first.deliveries.map(\.id) == [raiseHook.id] && first.nextDue == Self.t0.addingTimeInterval(10), "more due than the limit took: \(first)")
            let second = try await store.claimAlertDeliveries(now: Self.t0.addingTimeInterval(10), leaseUntil: lease, limit: 10)
            #expect(second.deliveries.map(\.id) == [raiseMail.id] && second.nextDue == lease, "the leases end before the repeat is due: \(second)")
            let claimed = first.deliveries + second.deliveries
            #expect(claimed.allSatisfy { $0.status == .sending && $0.leaseUntil == lease })
            #expect(try await store.claimAlertDeliveries(now: Self.t0.addingTimeInterval(20), leaseUntil: lease, limit: 10) == AlertClaim(deliveries: [], nextDue: lease))
            // Sixteen claimers at once, past the lease: each delivery goes to exactly one.
            let racing = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<16 {
                    group.addTask { try await store.claimAlertDeliveries(now: Self.t0.addingTimeInterval(61), leaseUntil: Self.t0.addingTimeInterval(200), limit: 10).deliveries.map(\.id) }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(racing.sorted() == [raiseHook.id, raiseMail.id].sorted(), "\(racing)")
            #expect(try await store.claimAlertDeliveries(now: Self.t0.addingTimeInterval(62), leaseUntil: lease, limit: 10).nextDue == Self.t0.addingTimeInterval(100),
                    "the repeat, before the new leases' end")

            var sent = claimed[0]
            sent.status = .delivered
            sent.attempts = 1
            sent.deliveredAt = Self.t0.addingTimeInterval(11)
            sent.lastAttemptAt = sent.deliveredAt
            sent.leaseUntil = nil
            try await store.updateAlertDelivery(sent)
            var failing = claimed[1]
            failing.status = .pending
            failing.attempts = 1
            failing.lastError = "HTTP 503"
            failing.nextAttemptAt = Self.t0.addingTimeInterval(300)
            failing.leaseUntil = nil
            try await store.updateAlertDelivery(failing)

            // A clear suppresses what is pending of the events named, nothing sent.
            let suppressed = try await store.suppressAlertDeliveries(alarmID: 3, events: [.raised, .repeated])
            #expect(Set(suppressed.map(\.id)) == [raiseMail.id, repeatHook.id] && suppressed.allSatisfy { $0.status == .suppressed })
            #expect(try await store.suppressAlertDeliveries(alarmID: 3, events: [.raised]).isEmpty)
            #expect(try await store.claimAlertDeliveries(now: Self.t0.addingTimeInterval(10_000), leaseUntil: lease, limit: 10) == AlertClaim(deliveries: [], nextDue: nil),
                    "nothing pending or sending: nothing to look for")

            // Listing: newest first, by receiver, alarm, status.
            let all = try await store.alertDeliveries(AlertDeliveryQuery())
            #expect(all.map(\.id) == [repeatHook.id, raiseMail.id, raiseHook.id])
            #expect(all.last == sent)
            #expect(try await store.alertDeliveries(AlertDeliveryQuery(receiverID: mail.id)).map(\.id) == [raiseMail.id])
            #expect(try await store.alertDeliveries(AlertDeliveryQuery(statuses: [.delivered])).map(\.id) == [raiseHook.id])
            #expect(try await store.alertDeliveries(AlertDeliveryQuery(alarmID: 4)).isEmpty)
            #expect(try await store.alertDeliveries(AlertDeliveryQuery(limit: 1)).map(\.id) == [repeatHook.id])

            #expect(try await store.deleteAlertReceiver(id: mail.id))
            #expect(try await store.deleteAlertReceiver(id: mail.id) == false)
            #expect(try await store.alertReceivers() == [hook])
        }
    }
}
