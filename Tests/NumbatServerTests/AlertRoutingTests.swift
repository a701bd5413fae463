import ErlangTerm
import Foundation
import HummingbirdTesting
import NumbatServer
import NumbatStore
import NumbatTestSupport
import Testing

/// Alert routing end to end, against real peers: alarms raised and cleared by SASL's
/// alarm_handler on real OTP 25 nodes, sent to a signed-webhook receiver (a real HTTP server),
/// a real Alertmanager (Debian's) and a real SMTP server (PyPI's aiosmtpd, STARTTLS and AUTH).
@Suite("alert routing with real receivers", .serialized)
struct AlertRoutingTests {
    /// Fast retries, so a test waits for seconds, not minutes. No polling to lean on: the
    /// queue must look at held-back raises, retries and repeats at their due times.
    static let fast: @Sendable (inout ServerConfiguration) -> Void = { configuration in
        configuration.alerts.retry.initialSeconds = 0.2
        configuration.alerts.retry.maximumSeconds = 1
        configuration.alerts.pollSeconds = 3600
    }

    static func eval(_ peer: TestNode, _ text: String) async throws -> Term { try await NotificationsTests.eval(peer, text) }

    static func deliveries(_ query: String = "", server: TestServer, client: any TestClientProtocol) async throws -> [[String: Any]] {
        try await client.call(.get, "/api/alerts/deliveries?\(query)", token: server.adminToken)["deliveries"] as? [[String: Any]] ?? []
    }

    static func event(_ delivery: [String: Any]) -> String? { (delivery["notice"] as? [String: Any])?["event"] as? String }
    static func key(_ delivery: [String: Any]) -> String? { ((delivery["notice"] as? [String: Any])?["alarm"] as? [String: Any])?["key"] as? String }

    @Test("webhook: rules and receivers through the API (validated, audited, secret masked); signed alerts of a real node's alarms; a receiver down gets them once back, across a restart, each once; a flapping alarm is never sent", arguments: StoreBackend.allCases)
    func webhookAcrossRestart(backend: StoreBackend) async throws {
        guard backend == .postgres else { return try await webhookAcrossRestart(store: nil) }
        guard try Requirement.postgres.check() else { return }
        try await PostgresServer.with { postgres in
            try await postgres.createDatabase("numbat")
            try await webhookAcrossRestart(store: try StoreLocation(parsing: postgres.url(database: "numbat")))
        }
    }

    /// On the embedded store (nil), or on PostgreSQL.
    func webhookAcrossRestart(store: StoreLocation?) async throws {
        let configure: @Sendable (inout ServerConfiguration) -> Void = { configuration in
            Self.fast(&configuration)
            if let store { configuration.store = store }
        }
        try await TestNode.with(release: .otp25) { peer in
            _ = try await Self.eval(peer, "{ok, _} = application:ensure_all_started(sasl).")
            let key = "hook-key-\(UUID().uuidString)"
            let receiver = WebhookReceiver(key: key, port: try freePort(onAll: ["127.0.0.1"]))
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }

            // The receiver is down while the first server raises and retries.
            try await TestServer.with(directory: directory, configure: configure) { server, client in
                let token = server.adminToken
                let hookURL = "http://127.0.0.1:\(receiver.port)/hook"
                let noSecret = try await client.call(.post, "/api/alerts/receivers", body: json(["name": "hook", "kind": "webhook", "url": hookURL]), token: token)
                #expect(noSecret.status == .badRequest && noSecret.errorCode == "invalid_field", "\(noSecret.text)")
                let typo = try await client.call(.post, "/api/alerts/receivers", body: json(["name": "hook", "kind": "webhook", "url": hookURL, "secrt": key]), token: token)
                #expect(typo.status == .badRequest && typo.errorCode == "unknown_field")
                let made = try await client.call(.post, "/api/alerts/receivers", body: json(["name": "hook", "kind": "webhook", "url": hookURL, "secret": key]), token: token)
                #expect(made.status == .created && made["secret"] as? String == "********", "\(made.text)")
                let receiverID = try #require(made["id"] as? String)
                let listed = try await client.call(.get, "/api/alerts/receivers", token: token)
                let shown = try await client.call(.get, "/api/alerts/receivers/\(receiverID)", token: token)
                #expect(!listed.text.contains(key) && !shown.text.contains(key) && !made.text.contains(key), "the key never leaves the server")

                let unknown = try await client.call(.post, "/api/alerts/rules", body: json(["name": "x", "receivers": [UUID().uuidString]]), token: token)
                #expect(unknown.status == .unprocessableContent && unknown.errorCode == "receiver_not_found", "\(unknown.text)")
                let rule = try await client.call(.post, "/api/alerts/rules", body: json(["name": "numbat alarms", "keys": ["sasl:numbat_*"], "receivers": [receiverID]]), token: token)
                #expect(rule.status == .created && rule["minimum_duration_seconds"] as? Double == 0, "\(rule.text)")
                let flapping = try await client.call(.post, "/api/alerts/rules", body: json(["name": "flapping", "keys": ["sasl:flap*"], "minimum_duration_seconds": 600,
                                                                                            "receivers": [receiverID]]), token: token)
                #expect(flapping.status == .created)
                let inUse = try await client.call(.delete, "/api/alerts/receivers/\(receiverID)", token: token)
                #expect(inUse.status == .conflict && inUse.errorCode == "receiver_in_use")
                let audit = try await client.call(.get, "/api/audit", token: token)
                #expect(audit.text.contains("alert receiver create hook") && audit.text.contains("alert rule create numbat alarms"), "\(audit.text.prefix(500))")

                _ = try await MetricsTests.add(peer, to: server, client: client)
                _ = try await Self.eval(peer, #"alarm_handler:set_alarm({numbat_disk, "disk almost full"})."#)
                // Set and cleared at once: held back for its rule's 10 minutes, then suppressed.
                _ = try await Self.eval(peer, #"alarm_handler:set_alarm({flap, "a flapping alarm"}), timer:sleep(300), alarm_handler:clear_alarm(flap)."#)
                var failing: [String: Any] = [:]
                let retried = try await eventually(within: .seconds(60)) {
                    failing = try await Self.deliveries(server: server, client: client).first { Self.key($0) == "sasl:numbat_disk" } ?? [:]
                    return failing["attempts"] as? Int ?? 0 >= 2
                }
                #expect(retried && failing["status"] as? String == "pending" && (failing["last_error"] as? String)?.isEmpty == false, "\(failing)")
                let flapped = try await eventually(within: .seconds(60)) {
                    try await Self.deliveries(server: server, client: client).contains { Self.key($0) == "sasl:flap" && $0["status"] as? String == "suppressed" }
                }
                #expect(flapped, "the flapping alarm's raise is suppressed")
                #expect(try await Self.deliveries("status=delivered", server: server, client: client).isEmpty)
                #expect(receiver.requests.isEmpty)
            }

            // Back, and a new server on the same store: the queued alert goes out.
            try await receiver.start()
            do {
                try await TestServer.with(directory: directory, configure: configure) { server, client in
                    let arrived = await eventually(within: .seconds(60)) { receiver.accepted.contains { $0.object["event"] as? String == "raised" } }
                    #expect(arrived, "the raise arrives once the receiver is back")
                    let raised = try #require(receiver.accepted.first)
                    #expect(raised.path == "/hook" && raised.headers["x-numbat-delivery"] == raised.object["id"] as? String)
                    #expect((raised.object["text"] as? String)?.contains("sasl:numbat_disk") == true, "\(raised.object)")
                    #expect(((raised.object["alarm"] as? [String: Any])?["node_name"] as? String) == peer.name.description)
                    // Recorded once the receiver has answered: a moment after it read the request.
                    var sent: [[String: Any]] = []
                    _ = try await eventually(within: .seconds(30)) {
                        sent = try await Self.deliveries("status=delivered", server: server, client: client)
                        return !sent.isEmpty
                    }
                    #expect(sent.count == 1 && sent[0]["attempts"] as? Int ?? 0 >= 3 && sent[0]["delivered_at"] is String, "\(sent)")

                    _ = try await Self.eval(peer, "alarm_handler:clear_alarm(numbat_disk).")
                    let cleared = await eventually(within: .seconds(60)) { receiver.accepted.contains { $0.object["event"] as? String == "cleared" } }
                    #expect(cleared, "the clear follows")
                    let done = try await eventually(within: .seconds(30)) {
                        try await Self.deliveries("status=delivered", server: server, client: client).count == 2
                    }
                    #expect(done)
                    let ids = receiver.requests.compactMap { $0.object["id"] as? String }
                    #expect(ids.count == 2 && Set(ids).count == 2, "each alert once: \(ids)")
                    #expect(receiver.requests.allSatisfy { $0.signed })
                    #expect(!receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("flap") }, "the flapping alarm never went out")
                }
            } catch {
                await receiver.stop()
                throw error
            }
            await receiver.stop()
        }
    }

    @Test("repeats while raised, numbered, each once; an acknowledgement through the API is sent and stops them; the clear follows")
    func repeatsAndAcknowledgement() async throws {
        try await TestNode.with(release: .otp25) { peer in
            _ = try await Self.eval(peer, "{ok, _} = application:ensure_all_started(sasl).")
            let key = "hook-key-\(UUID().uuidString)"
            let receiver = WebhookReceiver(key: key, port: try freePort(onAll: ["127.0.0.1"]))
            try await receiver.start()
            do {
                try await TestServer.with(configure: Self.fast) { server, client in
                    let token = server.adminToken
                    let made = try await client.call(.post, "/api/alerts/receivers", body: json(["name": "hook", "kind": "webhook", "url": "http://127.0.0.1:\(receiver.port)/hook", "secret": key]), token: token)
                    let receiverID = try #require(made["id"] as? String)
                    let rule = try await client.call(.post, "/api/alerts/rules", body: json(["name": "repeating", "keys": ["sasl:numbat_*"], "repeat_interval_seconds": 1,
                                                                                        "receivers": [receiverID]]), token: token)
                    #expect(rule.status == .created, "\(rule.text)")
                    _ = try await MetricsTests.add(peer, to: server, client: client)
                    _ = try await Self.eval(peer, #"alarm_handler:set_alarm({numbat_repeat, "still wrong"})."#)
                    func events() -> [String] { receiver.accepted.compactMap { $0.object["event"] as? String } }
                    let repeated = await eventually(within: .seconds(60)) { events().filter { $0 == "repeated" }.count >= 2 }
                    #expect(repeated && events().first == "raised", "\(events())")
                    let alarms = try await AlarmsTests.alarms("state=active", server: server, client: client)
                    let alarmID = try #require(alarms.first { $0["key"] as? String == "sasl:numbat_repeat" }?["id"] as? Int)
                    let acknowledged = try await client.call(.post, "/api/alarms/\(alarmID)/acknowledge", body: json(["comment": "on it"]), token: token)
                    #expect(acknowledged.status == .ok)
                    #expect(await eventually(within: .seconds(60)) { events().contains("acknowledged") }, "\(events())")
                    let ack = try #require(receiver.accepted.first { $0.object["event"] as? String == "acknowledged" })
                    #expect((ack.object["text"] as? String)?.contains("ACKNOWLEDGED by admin") == true, "\(ack.object)")
                    // While the alarm is still raised: no repeat is waiting any more (one would always be,
                    // a second ahead, if repeats went on); the one queued before it is suppressed.
                    let stopped = try await eventually(within: .seconds(60)) {
                        try await !Self.deliveries("alarm=\(alarmID)", server: server, client: client).contains {
                            Self.event($0) == "repeated" && ["pending", "sending"].contains($0["status"] as? String ?? "")
                        }
                    }
                    let queue = try await Self.deliveries("alarm=\(alarmID)", server: server, client: client)
                    #expect(stopped, "\(queue)")
                    _ = try await Self.eval(peer, "alarm_handler:clear_alarm(numbat_repeat).")
                    #expect(await eventually(within: .seconds(60)) { events().contains("cleared") }, "\(events())")
                    var all: [[String: Any]] = []
                    let settled = try await eventually(within: .seconds(30)) {
                        all = try await Self.deliveries("alarm=\(alarmID)", server: server, client: client)
                        return !all.contains { $0["status"] as? String == "pending" || $0["status"] as? String == "sending" }
                    }
                    #expect(settled, "\(all)")
                    let sent = all.filter { $0["status"] as? String == "delivered" }.compactMap(Self.event)
                    #expect(events().count == sent.count && events().sorted() == sent.sorted(), "each delivered once: \(events()) vs \(sent)")
                    // At most the repeat that was on its way when the acknowledgement came.
                    let afterAcknowledgement = events().drop { $0 != "acknowledged" }
                    #expect(afterAcknowledgement.filter { $0 == "repeated" }.count <= 1 && events().last == "cleared", "\(events())")
                    let numbers = receiver.accepted.filter { $0.object["event"] as? String == "repeated" }.compactMap { $0.object["id"] as? String }
                    #expect(Set(numbers).count == numbers.count && numbers.first?.contains("-repeated-1-") == true, "\(numbers)")
                }
            } catch {
                await receiver.stop()
                throw error
            }
            await receiver.stop()
        }
    }

    @Test("Alertmanager: a real node's alarm is an active alert with its labels there, resolved after the clear; a test alert goes too",
          .requires(.alertmanager))
    func alertmanager() async throws {
        try await TestNode.with(release: .otp25) { peer in
            _ = try await Self.eval(peer, "{ok, _} = application:ensure_all_started(sasl).")
            // Alertmanager's own notifications (with send_resolved) say what it thinks of the alert.
            let notifications = WebhookReceiver(key: nil, port: try freePort(onAll: ["127.0.0.1"]))
            try await notifications.start()
            do {
                try await AlertmanagerServer.with(webhook: "http://127.0.0.1:\(notifications.port)/am") { am in
                    try await TestServer.with(configure: Self.fast) { server, client in
                        let token = server.adminToken
                        let made = try await client.call(.post, "/api/alerts/receivers", body: json(["name": "am", "kind": "alertmanager", "url": am.url.absoluteString]), token: token)
                        #expect(made.status == .created && made["secret"] is NSNull, "\(made.text)")
                        let receiverID = try #require(made["id"] as? String)
                        let rule = try await client.call(.post, "/api/alerts/rules", body: json(["name": "major", "minimum_severity": "major", "keys": ["sasl:numbat_*"], "receivers": [receiverID]]), token: token)
                        #expect(rule.status == .created)
                        let tested = try await client.call(.post, "/api/alerts/receivers/\(receiverID)/test", token: token)
                        #expect(tested["status"] as? String == "delivered", "\(tested.text)")

                        let nodeID = try await MetricsTests.add(peer, to: server, client: client)
                        _ = try await Self.eval(peer, #"alarm_handler:set_alarm({numbat_am, "memory high"})."#)
                        var alert: [String: Any] = [:]
                        let active = try await eventually(within: .seconds(60)) {
                            alert = try await am.alerts().first { ($0["labels"] as? [String: String])?["alarm_key"] == "sasl:numbat_am" } ?? [:]
                            return !alert.isEmpty
                        }
                        #expect(active, "Alertmanager has the alert")
                        let labels = alert["labels"] as? [String: String] ?? [:]
                        #expect(labels["node"] == peer.name.description && labels["severity"] == "major" && labels["alertname"] == "NumbatAlarm", "\(labels)")
                        #expect((alert["status"] as? [String: Any])?["state"] as? String == "active")
                        #expect((alert["annotations"] as? [String: String])?["summary"]?.contains("memory high") == true)
                        #expect(try await am.alerts().contains { ($0["labels"] as? [String: String])?["alarm_key"] == "numbat_test" }, "the test alert")

                        // Alertmanager notifies a resolved alert only where it notified it firing.
                        func notified(_ status: String) -> Bool {
                            notifications.requests.contains { request in
                                (request.object["alerts"] as? [[String: Any]] ?? []).contains {
                                    $0["status"] as? String == status && ($0["labels"] as? [String: String])?["alarm_key"] == "sasl:numbat_am"
                                }
                            }
                        }
                        #expect(await eventually(within: .seconds(60)) { notified("firing") }, "Alertmanager notifies the alert firing")
                        _ = try await Self.eval(peer, "alarm_handler:clear_alarm(numbat_am).")
                        let gone = try await eventually(within: .seconds(60)) {
                            try await !am.alerts().contains { ($0["labels"] as? [String: String])?["alarm_key"] == "sasl:numbat_am" }
                        }
                        #expect(gone, "resolved alerts leave Alertmanager's active list")
                        let resolved = await eventually(within: .seconds(60)) { notified("resolved") }
                        #expect(resolved, "Alertmanager notifies the alert resolved: \(notifications.requests.map { "\($0.path) \(String(decoding: $0.body, as: UTF8.self).prefix(400))" }) \(am.output)")
                        var sent: [String] = []
                        _ = try await eventually(within: .seconds(30)) {
                            sent = try await Self.deliveries("status=delivered", server: server, client: client).compactMap(Self.event)
                            return sent.count >= 3
                        }
                        #expect(sent.sorted() == ["cleared", "raised", "test"], "\(sent)")
                        _ = nodeID
                    }
                }
            } catch {
                await notifications.stop()
                throw error
            }
            await notifications.stop()
        }
    }

    @Test("email: a test alert and a real node's alarm over STARTTLS and AUTH to aiosmtpd; a wrong password fails for good",
          .requires(.aiosmtpd), arguments: ["PLAIN", "LOGIN"])
    func email(mechanism: String) async throws {
        let certificates = try await TLSCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let password = "smtp-pass-\(UUID().uuidString)"
        try await TestNode.with(release: .otp25) { peer in
            _ = try await Self.eval(peer, "{ok, _} = application:ensure_all_started(sasl).")
            try await SMTPTestServer.with(certificate: certificates.path("node.pem"), key: certificates.path("node.key"), user: "ops",
                                          password: password, mechanisms: [mechanism]) { smtp in
                try await TestServer.with(configure: Self.fast) { server, client in
                    let token = server.adminToken
                    let ca = try String(contentsOfFile: certificates.path("ca.pem"), encoding: .utf8)
                    let settings: [String: Any] = ["kind": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_ca": ca, "smtp_user": "ops",
                                                   "from": "numbat@example.org", "to": ["ops@example.org", "dev@example.org"]]
                    let made = try await client.call(.post, "/api/alerts/receivers", body: json(settings.merging(["name": "mail", "secret": password]) { $1 }), token: token)
                    #expect(made.status == .created && made["secret"] as? String == "********" && !made.text.contains(password), "\(made.text)")
                    let receiverID = try #require(made["id"] as? String)
                    let tested = try await client.call(.post, "/api/alerts/receivers/\(receiverID)/test", token: token)
                    #expect(tested["status"] as? String == "delivered", "\(tested.text) \(smtp.output.suffix(1000))")
                    let first = try #require(try smtp.messages().first)
                    #expect(first["tls"] as? Bool == true && first["user"] as? String == "ops" && first["from"] as? String == "numbat@example.org", "\(first)")
                    #expect(first["to"] as? [String] == ["ops@example.org", "dev@example.org"])
                    #expect((first["data"] as? String)?.contains("Subject: Numbat: [TEST]") == true)

                    _ = try await client.call(.post, "/api/alerts/rules", body: json(["name": "mail", "keys": ["sasl:numbat_*"], "receivers": [receiverID]]), token: token)
                    _ = try await MetricsTests.add(peer, to: server, client: client)
                    _ = try await Self.eval(peer, #"alarm_handler:set_alarm({numbat_mail, "queue growing"})."#)
                    let arrived = try await eventually(within: .seconds(60)) { try smtp.messages().count == 2 }
                    let queue = try await Self.deliveries(server: server, client: client)
                    #expect(arrived, "\(queue)")
                    let data = try smtp.messages().last?["data"] as? String ?? ""
                    #expect(data.contains("Subject: Numbat: [RAISED] major on \(peer.name.description)") && data.contains("queue growing"), "\(data)")
                    #expect(data.contains("Message-ID: <alarm-") && data.contains(receiverID.lowercased()))

                    let wrong = try await client.call(.post, "/api/alerts/receivers", body: json(settings.merging(["name": "wrong", "secret": "nope"]) { $1 }), token: token)
                    let wrongID = try #require(wrong["id"] as? String)
                    let refused = try await client.call(.post, "/api/alerts/receivers/\(wrongID)/test", token: token)
                    #expect(refused["status"] as? String == "failed" && (refused["last_error"] as? String)?.contains("535") == true, "\(refused.text)")
                    #expect(try smtp.messages().count == 2)
                }
            }
        }
    }
}
