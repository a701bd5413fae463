import ErlangTerm
import Foundation
import HummingbirdTesting
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NumbatTestSupport
import Testing

/// Notifications from real nodes: the injected logger handler, levels, storage and the WebSocket.
@Suite("notifications with real nodes")
struct NotificationsTests {
    /// Evaluates Erlang expressions on the peer through a hidden observer node.
    static func eval(_ peer: TestNode, _ text: String, observer: Observer? = nil) async throws -> Term {
        if let observer {
            return try await observer.local.rpc(peer.name, "numbat_test_peer", "eval", [.binary(Array(text.utf8))])
        }
        let fresh = try Observer(cookie: peer.cookie)
        defer { Task { await fresh.shutdown() } }
        return try await fresh.local.rpc(peer.name, "numbat_test_peer", "eval", [.binary(Array(text.utf8))])
    }

    @Test("logger:error reaches a WebSocket client within 1 s with its metadata; info only once the level is lowered", arguments: OTPRelease.installed)
    func loggerEvents(release: OTPRelease) async throws {
        // The node's own primary level must let info events exist at all; Numbat never changes it.
        try await TestNode.with(release: release, extraArgs: ["-kernel", "logger_level", "info"]) { peer in
            try await TestServer.with(.live) { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let installed = try await eventually(within: .seconds(10)) {
                    try await Self.eval(peer, "lists:member(numbat_notifier, logger:get_handler_ids()).") == .atom("true")
                }
                #expect(installed, "the log agent's handler is on the node")
                try await client.ws("/api/ws?token=\(server.adminToken)") { inbound, outbound, _ in
                    let watchdog = Task {
                        try await Task.sleep(for: .seconds(20))
                        try await outbound.close(.goingAway, reason: "test timed out")
                    }
                    defer { watchdog.cancel() }
                    var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    _ = try await LifecycleTests.next(&messages)
                    try await outbound.write(.text(json(["subscribe": ["topics": ["notification"]]])))
                    _ = try await LifecycleTests.next(&messages) { $0["type"] as? String == "subscribed" }

                    // Below the default level (error): not collected. The error after it proves
                    // it was not merely late: both travel the same path, in order.
                    // One observer, connected before the clock starts: the time is the event's own.
                    let observer = try Observer(cookie: peer.cookie)
                    defer { Task { await observer.shutdown() } }
                    _ = try await Self.eval(peer, #"logger:info("numbat quiet ~p", [1]), ok."#, observer: observer)
                    let clock = ContinuousClock()
                    let sent = clock.now
                    _ = try await Self.eval(peer, #"logger:error("numbat loud ~p", [<<255, 0>>], #{mfa => {shop, checkout, 2}, line => 42}), ok."#, observer: observer)
                    let first = try await LifecycleTests.next(&messages) { $0["type"] as? String == "notification" }
                    #expect(clock.now - sent < .seconds(1), "within a second")
                    let notification = try #require(first?["notification"] as? [String: Any])
                    #expect(notification["message"] as? String == "numbat loud <<255,0>>")
                    #expect(notification["severity"] as? String == "error")
                    #expect(notification["source"] as? String == "logger")
                    #expect(notification["node"] as? String == id)
                    let metadata = notification["metadata"] as? [String: String] ?? [:]
                    #expect(metadata["mfa"] == "shop:checkout/2" && metadata["line"] == "42", "\(metadata)")
                    #expect(metadata["pid"]?.hasPrefix("<") == true)

                    let lowered = try await client.call(.put, "/api/notifications/nodes/\(id)/level", body: json(["level": "info"]), token: server.adminToken)
                    #expect(lowered["level"] as? String == "info")
                    _ = try await Self.eval(peer, #"logger:info("numbat now heard"), ok."#)
                    let info = try await LifecycleTests.next(&messages) { $0["type"] as? String == "notification" }
                    #expect((info?["notification"] as? [String: Any])?["message"] as? String == "numbat now heard")
                }
                // Stored: newest first, filtered, and the quiet one is not there.
                let all = try await client.call(.get, "/api/notifications?node=\(id)", token: server.adminToken)
                let messages = (all["notifications"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
                #expect(messages == ["numbat now heard", "numbat loud <<255,0>>"], "\(messages)")
                let errors = try await client.call(.get, "/api/notifications?severity=error&q=LOUD", token: server.adminToken)
                #expect((errors["notifications"] as? [Any])?.count == 1)
                let page = try await client.call(.get, "/api/notifications?node=\(id)&limit=1", token: server.adminToken)
                let next = try #require(page["next"] as? Int)
                let older = try await client.call(.get, "/api/notifications?node=\(id)&limit=1&before=\(next)", token: server.adminToken)
                #expect(((older["notifications"] as? [[String: Any]])?.first?["message"] as? String) == "numbat loud <<255,0>>")
                for bad in ["severity=loud", "limit=0", "before=x", "node=nope", "from=yesterday"] {
                    #expect(try await client.call(.get, "/api/notifications?\(bad)", token: server.adminToken).status == .badRequest, "\(bad)")
                }
                let badLevel = try await client.call(.put, "/api/notifications/nodes/\(id)/level", body: json(["level": "chatty"]), token: server.adminToken)
                #expect(badLevel.status == .badRequest)
            }
            // The server is gone: the agent and its handler leave the node.
            let observer = try Observer(cookie: peer.cookie)
            let probe = Term.binary(Array("{element(1, logger:get_handler_config(numbat_notifier)), lists:member(numbat_notifier, logger:get_handler_ids()), whereis(numbat_log_agent)}.".utf8))
            var left = Term.atom("unknown")
            let gone = try await eventually(within: .seconds(10)) {
                left = try await observer.local.rpc(peer.name, "numbat_test_peer", "eval", [probe])
                return left == .tuple([.atom("error"), .atom("false"), .atom("undefined")])
            }
            await observer.shutdown()
            #expect(gone, "left on the node: \(left)")
        }
    }

    @Test("a flood of errors is bounded on the node and counted as dropped")
    func flood() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let installed = try await eventually(within: .seconds(10)) {
                    try await Self.eval(peer, "lists:member(numbat_notifier, logger:get_handler_ids()).") == .atom("true")
                }
                #expect(installed)
                // 20,000 errors as fast as the node can log them (the default handler is removed
                // first so the test measures Numbat's path, not the console).
                _ = try await Self.eval(peer, """
                    logger:remove_handler(default),
                    [logger:error("flood ~b", [N]) || N <- lists:seq(1, 20000)], ok.
                    """)
                var dropped = 0
                var stored = 0
                let counted = try await eventually(within: .seconds(10)) {
                    let page = try await client.call(.get, "/api/notifications?node=\(id)&limit=1000", token: server.adminToken)
                    let entries = page["notifications"] as? [[String: Any]] ?? []
                    dropped = entries.compactMap { ($0["metadata"] as? [String: String])?["dropped"].flatMap(Int.init) }.reduce(0, +)
                    stored = entries.filter { ($0["message"] as? String)?.hasPrefix("flood ") == true }.count
                    return dropped > 0
                }
                #expect(counted, "drops are reported")
                #expect(stored <= 1000, "the agent forwards at most 1,000 a second")
                let queue = try await Self.eval(peer, "element(2, erlang:process_info(whereis(numbat_log_agent), message_queue_len)).")
                #expect((queue.intValue ?? .max) < 10_001, "the agent's queue stays bounded: \(queue)")
            }
        }
    }
}
