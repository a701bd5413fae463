import Foundation
import NumbatAPI
import NumbatCore
import NumbatServices
import Testing

/// Alert routing's pure part, directly: matching, holding back for the minimum duration, what a
/// clear or acknowledgement follows up, the retry schedule, repeats, idempotency keys, and the
/// messages each receiver kind is sent.
@Suite("alert routing: planner and messages")
struct AlertPlannerTests {
    static let t0 = Date(timeIntervalSince1970: 1_760_000_000)
    static let webhook = UUID()
    static let mail = UUID()
    static let family = UUID()

    static func alarm(_ severity: Alarm.Severity = .major, key: String = "sasl:disk_full", node: String = "a@h", id: Int64 = 7) -> Alarm {
        Alarm(id: id, nodeID: UUID(), nodeName: node, key: key, source: .sasl, severity: severity, summary: "disk full", raisedAt: t0)
    }

    static func notice(_ event: AlertNotice.Event = .raised, _ alarm: Alarm = alarm(), family: UUID? = family) -> AlertNotice {
        AlertNotice(event: event, time: t0, alarm: alarm, familyID: family, familyName: "web")
    }

    @Test("matching: severity at least, key patterns, nodes, families; disabled rules and empty conditions")
    func matching() {
        let alarm = Self.alarm(.major, key: "message_queue:my_server", node: "a@h")
        func matches(_ rule: AlertRule, family: UUID? = Self.family) -> Bool { AlertPlanner.matches(rule, alarm, familyID: family) }
        #expect(matches(AlertRule(name: "all", receivers: [])))
        #expect(matches(AlertRule(name: "major+", minimumSeverity: .major, receivers: [])))
        #expect(matches(AlertRule(name: "minor+", minimumSeverity: .minor, receivers: [])))
        #expect(!matches(AlertRule(name: "critical", minimumSeverity: .critical, receivers: [])))
        #expect(matches(AlertRule(name: "mq", keys: ["message_queue:*"], receivers: [])))
        #expect(matches(AlertRule(name: "exact", keys: ["sasl:x", "message_queue:my_server"], receivers: [])))
        #expect(!matches(AlertRule(name: "sasl", keys: ["sasl:*"], receivers: [])))
        #expect(matches(AlertRule(name: "node", nodes: ["a@h"], receivers: [])))
        #expect(!matches(AlertRule(name: "other node", nodes: ["b@h"], receivers: [])))
        #expect(matches(AlertRule(name: "family", families: [Self.family], receivers: [])))
        #expect(!matches(AlertRule(name: "family", families: [Self.family], receivers: []), family: nil))
        #expect(!matches(AlertRule(name: "off", enabled: false, receivers: [])))
        #expect(AlertPlanner.glob("*", matches: ""))
        #expect(AlertPlanner.glob("a*b*c", matches: "axxbyyc") && !AlertPlanner.glob("a*b*c", matches: "axxbyy"))
        #expect(AlertPlanner.glob("*:{disk,*}", matches: "sasl:{disk,\"/\"}"))
        #expect(!AlertPlanner.glob("ab*ba", matches: "aba"), "the prefix and suffix may not overlap")
    }

    @Test("a raise goes to each receiver once (the smallest minimum duration of its rules), held back until it has lasted that long")
    func raised() {
        let planner = AlertPlanner()
        let rules = [AlertRule(name: "slow", minimumDurationSeconds: 60, repeatIntervalSeconds: 600, receivers: [Self.webhook, Self.mail]),
                     AlertRule(name: "fast", minimumDurationSeconds: 10, repeatIntervalSeconds: 300, receivers: [Self.webhook]),
                     AlertRule(name: "clears only", events: [.cleared], receivers: [UUID()])]
        let planned = planner.raised(Self.notice(), rules: rules, receivers: [Self.webhook, Self.mail], now: Self.t0.addingTimeInterval(1))
        #expect(planned.count == 2)
        let byReceiver = Dictionary(uniqueKeysWithValues: planned.map { ($0.receiverID, $0) })
        #expect(byReceiver[Self.webhook]?.nextAttemptAt == Self.t0.addingTimeInterval(10))
        #expect(byReceiver[Self.webhook]?.repeatIntervalSeconds == 300)
        #expect(byReceiver[Self.mail]?.nextAttemptAt == Self.t0.addingTimeInterval(60))
        #expect(planned.allSatisfy { $0.status == .pending && $0.attempts == 0 && $0.alarmID == 7 })
        // The same event planned again (a restart, another server) has the same ids: the
        // store queues each once.
        let again = planner.raised(Self.notice(), rules: rules, receivers: [Self.webhook, Self.mail], now: Self.t0.addingTimeInterval(30))
        #expect(Set(again.map(\.id)) == Set(planned.map(\.id)))
        #expect(byReceiver[Self.webhook]?.id == "alarm-7-raised-0-\(Self.webhook.uuidString.lowercased())")
        // A receiver that no longer exists is left out.
        #expect(planner.raised(Self.notice(), rules: rules, receivers: [Self.mail], now: Self.t0).map(\.receiverID) == [Self.mail])
    }

    @Test("a clear within the minimum duration sends nothing; after it, the clear follows the raise; acknowledgements stop repeats")
    func followUps() {
        let planner = AlertPlanner()
        let rules = [AlertRule(name: "all", minimumDurationSeconds: 30, receivers: [Self.webhook, Self.mail])]
        #expect(AlertPlanner.heldBack(by: .cleared) == [.raised, .repeated])
        #expect(AlertPlanner.heldBack(by: .acknowledged) == [.repeated])
        var raises = planner.raised(Self.notice(), rules: rules, receivers: [Self.webhook, Self.mail], now: Self.t0)
        // Cleared at +10 s: the store suppressed both pending raises; nothing to follow up.
        for index in raises.indices { raises[index].status = .suppressed }
        #expect(AlertPlanner.raisedTo(raises).isEmpty)
        #expect(planner.followed(Self.notice(.cleared), rules: rules, raisedTo: AlertPlanner.raisedTo(raises), now: Self.t0).isEmpty)
        // The webhook got its raise, the mail's is still being retried: both get the clear,
        // never before their raise is due.
        raises[0].status = .delivered
        raises[0].deliveredAt = Self.t0.addingTimeInterval(31)
        raises[1].status = .pending
        raises[1].nextAttemptAt = Self.t0.addingTimeInterval(90)
        let now = Self.t0.addingTimeInterval(40)
        let clears = planner.followed(Self.notice(.cleared), rules: rules, raisedTo: AlertPlanner.raisedTo(raises), now: now)
        #expect(clears.count == 2 && clears.allSatisfy { $0.notice.event == .cleared })
        #expect(Dictionary(uniqueKeysWithValues: clears.map { ($0.receiverID, $0.nextAttemptAt) })
                == [raises[0].receiverID: now, raises[1].receiverID: Self.t0.addingTimeInterval(90)])
        // A rule that does not send clears sends none.
        let quiet = [AlertRule(name: "raises", events: [.raised], receivers: [Self.webhook])]
        #expect(planner.followed(Self.notice(.cleared), rules: quiet, raisedTo: [Self.webhook: now], now: now).isEmpty)
        #expect(planner.followed(Self.notice(.acknowledged), rules: rules, raisedTo: [Self.webhook: now], now: now).map(\.notice.event) == [.acknowledged])
    }

    @Test("retries: doubling from the initial wait to the maximum, given up after the last attempt or at once when refused")
    func retries() {
        var retry = AlertPlanner.Retry()
        retry.initialSeconds = 2
        retry.maximumSeconds = 30
        retry.maximumAttempts = 6
        #expect((1...7).map { retry.delay(afterAttempts: $0) } == [2, 4, 8, 16, 30, 30, 30])
        let planner = AlertPlanner(retry: retry)
        var delivery = planner.raised(Self.notice(), rules: [AlertRule(name: "r", receivers: [Self.webhook])], receivers: [Self.webhook], now: Self.t0)[0]
        delivery.status = .sending
        var now = Self.t0
        for attempt in 1...5 {
            let (after, repeated) = planner.attempted(delivery, .failed("HTTP 503", permanent: false), now: now, stillRaised: true)
            #expect(after.status == .pending && after.attempts == attempt && after.lastError == "HTTP 503" && repeated == nil)
            #expect(after.nextAttemptAt == now.addingTimeInterval(retry.delay(afterAttempts: attempt)) && after.leaseUntil == nil)
            delivery = after
            delivery.status = .sending
            now = after.nextAttemptAt
        }
        #expect(planner.attempted(delivery, .failed("HTTP 503", permanent: false), now: now, stillRaised: true).delivery.status == .failed)
        #expect(planner.attempted(delivery, .failed("HTTP 401", permanent: true), now: now, stillRaised: true).delivery.status == .failed)
        #expect(AlertPlanner.outcome(httpStatus: 202, body: "") == .delivered)
        #expect(AlertPlanner.outcome(httpStatus: 401, body: "bad signature") == .failed("HTTP 401: bad signature", permanent: true))
        #expect(AlertPlanner.outcome(httpStatus: 429, body: "") == .failed("HTTP 429", permanent: false))
        #expect(AlertPlanner.outcome(httpStatus: 500, body: "") == .failed("HTTP 500", permanent: false))
    }

    @Test("repeats: a delivered raise queues the next repeat after the interval while the alarm stays new; numbered, and dropped once it is not")
    func repeats() throws {
        let planner = AlertPlanner()
        var delivery = planner.raised(Self.notice(), rules: [AlertRule(name: "r", repeatIntervalSeconds: 60, receivers: [Self.webhook])],
                                      receivers: [Self.webhook], now: Self.t0)[0]
        let done = Self.t0.addingTimeInterval(1)
        let (sent, next) = planner.attempted(delivery, .delivered, now: done, stillRaised: true)
        #expect(sent.status == .delivered && sent.deliveredAt == done && sent.attempts == 1)
        let first = try #require(next)
        #expect(first.notice.event == .repeated && first.notice.sequence == 1 && first.nextAttemptAt == done.addingTimeInterval(60))
        #expect(first.id == "alarm-7-repeated-1-\(Self.webhook.uuidString.lowercased())")
        let second = planner.attempted(first, .delivered, now: first.nextAttemptAt, stillRaised: true).repeat
        #expect(second?.notice.sequence == 2)
        #expect(planner.attempted(first, .delivered, now: first.nextAttemptAt, stillRaised: false).repeat == nil)
        delivery.repeatIntervalSeconds = nil
        #expect(planner.attempted(delivery, .delivered, now: done, stillRaised: true).repeat == nil)
        var alarm = Self.alarm()
        #expect(AlertPlanner.stillWanted(first, alarm: alarm))
        alarm.state = .acknowledged
        #expect(!AlertPlanner.stillWanted(first, alarm: alarm) && !AlertPlanner.stillWanted(first, alarm: nil))
        #expect(AlertPlanner.stillWanted(sent, alarm: nil), "only repeats are dropped")
    }

    @Test("webhook: body with a Slack-compatible text and the delivery id, HMAC-SHA256 over timestamp and body (openssl's value)")
    func webhook() throws {
        #expect(AlertMessages.signature(body: Data(#"{"a":1}"#.utf8), timestamp: 1_700_000_000, key: "webhook-key")
                == "sha256=4ea5b77bd5ee978f109de0a670bdf8bb05fcbb78feae562e0c6c38c56baa1f17")
        let delivery = AlertDelivery(id: "alarm-7-raised-0-x", receiverID: Self.webhook, ruleID: nil, alarmID: 7, notice: Self.notice(),
                                     createdAt: Self.t0, nextAttemptAt: Self.t0)
        let body = try AlertMessages.webhookBody(delivery)
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(object["text"] as? String == "[RAISED] major on a@h: disk full (sasl:disk_full)")
        #expect(object["id"] as? String == "alarm-7-raised-0-x" && object["event"] as? String == "raised" && object["family_name"] as? String == "web")
        #expect((object["alarm"] as? [String: Any])?["key"] as? String == "sasl:disk_full")
        let headers = Dictionary(uniqueKeysWithValues: AlertMessages.webhookHeaders(delivery, body: body, timestamp: 5, key: "k"))
        #expect(headers["X-Numbat-Timestamp"] == "5" && headers["Idempotency-Key"] == "alarm-7-raised-0-x")
        #expect(headers["X-Numbat-Signature"] == AlertMessages.signature(body: body, timestamp: 5, key: "k"))
    }

    @Test("Alertmanager: labels for key, node, family, severity; a clear is the alert resolved at its clearing time")
    func alertmanager() {
        var alarm = Self.alarm(.critical)
        let raised = AlertMessages.alertmanagerAlert(Self.notice(.raised, alarm))
        #expect(raised.labels == ["alertname": "NumbatAlarm", "alarm_key": "sasl:disk_full", "node": "a@h", "family": "web",
                                  "severity": "critical", "source": "sasl", "alarm_id": "7"])
        #expect(raised.startsAt == Self.t0 && raised.endsAt == nil && raised.annotations["summary"] == "disk full")
        alarm.state = .cleared
        alarm.clearedAt = Self.t0.addingTimeInterval(90)
        let cleared = AlertMessages.alertmanagerAlert(Self.notice(.cleared, alarm))
        #expect(cleared.labels == raised.labels, "the same alert, resolved")
        #expect(cleared.endsAt == Self.t0.addingTimeInterval(90))
    }

    @Test("email: headers, the delivery id as Message-ID, CRLF lines, dot-stuffing")
    func email() {
        var alarm = Self.alarm()
        alarm.details = "line one\n.hidden\nline three"
        let delivery = AlertDelivery(id: "alarm-7-raised-0-x", receiverID: Self.mail, ruleID: nil, alarmID: 7, notice: Self.notice(.raised, alarm),
                                     createdAt: Self.t0, nextAttemptAt: Self.t0)
        let message = AlertMessages.email(delivery, from: "numbat@example.org", to: ["ops@example.org", "dev@example.org"], date: Self.t0)
        let lines = message.components(separatedBy: "\r\n")
        #expect(lines.contains("Subject: Numbat: [RAISED] major on a@h: disk full (sasl:disk_full)"))
        #expect(lines.contains("To: ops@example.org, dev@example.org") && lines.contains("Message-ID: <alarm-7-raised-0-x@numbat>"))
        #expect(lines.contains("..hidden") && !lines.contains(".hidden"))
        #expect(!message.replacingOccurrences(of: "\r\n", with: "").contains("\n") && message.hasSuffix("\r\n"))
    }

    @Test("a receiver's answer masks its secret: ******** when set, null when not")
    func masked() throws {
        let receiver = AlertReceiver(name: "hook", kind: .webhook, url: "http://x/")
        let data = try APICoding.encoder().encode(AlertReceiverResponse(receiver: receiver, hasSecret: true))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["secret"] as? String == "********" && object["url"] as? String == "http://x/" && object["kind"] as? String == "webhook")
        let none = try APICoding.encoder().encode(AlertReceiverResponse(receiver: receiver, hasSecret: false))
        #expect(String(decoding: none, as: UTF8.self).contains(#""secret":null"#))
    }

    @Test("the queue sleeps until the next delivery is due: at once after a take, at most the longest sleep, never a spin")
    func queueSleeps() throws {
        let delivery = AlertDelivery(id: "d", receiverID: Self.webhook, ruleID: UUID(), alarmID: 7, notice: AlertNotice(event: .raised, time: Self.t0, alarm: Self.alarm()),
                                     repeatIntervalSeconds: nil, createdAt: Self.t0, nextAttemptAt: Self.t0)
        func sleep(_ deliveries: [AlertDelivery], due: Double?) -> Double? {
            AlertPlanner.sleep(after: AlertClaim(deliveries: deliveries, nextDue: due.map { Self.t0.addingTimeInterval($0) }), now: Self.t0, longest: 30)
        }
        #expect(sleep([delivery], due: 5) == nil, "what it took is sent, then the queue is looked at again")
        #expect(sleep([], due: nil) == 30, "nothing waiting: the longest sleep")
        #expect(sleep([], due: 2.5) == 2.5, "a retry or held-back raise: at its time")
        #expect(sleep([], due: 600) == 30)
        #expect(sleep([], due: 0) == AlertPlanner.shortestSleep && sleep([], due: -3) == AlertPlanner.shortestSleep,
                "due but taken by another server at that moment: a moment later, not in a spin")
    }
}
