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
            observer.local.setDistributionPort(peer.distributionPort, for: peer.name)
            return try await observer.local.rpc(peer.name, "numbat_test_peer", "eval", [.binary(Array(text.utf8))])
        }
        let fresh = try Observer(cookie: peer.cookie)
        defer { Task { await fresh.shutdown() } }
        fresh.local.setDistributionPort(peer.distributionPort, for: peer.name)
        return try await fresh.local.rpc(peer.name, "numbat_test_peer", "eval", [.binary(Array(text.utf8))])
    }

    @Test("logger:error reaches a WebSocket client with its metadata; info only once the level is lowered", arguments: OTPRelease.installed)
    func loggerEvents(release: OTPRelease) async throws {
        // The node's own primary level must let info events exist at all; Numbat never changes it.
        try await TestNode.with(release: release, extraArgs: ["-kernel", "logger_level", "info"]) { peer in
            try await TestServer.with(.live) { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let installed = try await eventually(within: .seconds(60)) {
                    try await Self.eval(peer, "lists:member(numbat_notifier, logger:get_handler_ids()).") == .atom("true")
                }
                #expect(installed, "the log agent's handler is on the node")
                try await client.ws("/api/ws?token=\(server.adminToken)") { inbound, outbound, _ in
                    let watchdog = Task {
                        try await Task.sleep(for: .seconds(60))
                        try await outbound.close(.goingAway, reason: "test timed out")
                    }
                    defer { watchdog.cancel() }
                    var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    _ = try await LifecycleTests.next(&messages)
                    try await outbound.write(.text(json(["subscribe": ["topics": ["notification"]]])))
                    _ = try await LifecycleTests.next(&messages) { $0["type"] as? String == "subscribed" }

                    // Below the default level (error): not collected. The error after it proves
                    // it was not merely late: both travel the same path, in order.
                    // One observer sends both. The latency is `numbat-bench --only
                    // notification-latency`'s figure; here only the event counts (the watchdog
                    // bounds the wait).
                    let observer = try Observer(cookie: peer.cookie)
                    defer { Task { await observer.shutdown() } }
                    _ = try await Self.eval(peer, #"logger:info("numbat quiet ~p", [1]), ok."#, observer: observer)
                    _ = try await Self.eval(peer, #"logger:error("numbat loud ~p", [<<255, 0>>], #{mfa => {shop, checkout, 2}, line => 42}), ok."#, observer: observer)
                    let first = try await LifecycleTests.next(&messages) { $0["type"] as? String == "notification" }
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
            let gone = try await eventually(within: .seconds(60)) {
                left = try await observer.local.rpc(peer.name, "numbat_test_peer", "eval", [probe])
                return left == .tuple([.atom("error"), .atom("false"), .atom("undefined")])
            }
            await observer.shutdown()
            #expect(gone, "left on the node: \(left)")
        }
    }

    @Test("lager: lager's own events are collected, once each, beside logger's")
    func lager() async throws {
        // Quiet lager: no console or file backends, no crash log.
        try await TestNode.with(release: .otp25, extraArgs: ["-lager", "handlers", "[]", "-lager", "crash_log", "false"]) { peer in
            _ = try await Self.eval(peer, "{ok, _} = application:ensure_all_started(lager), ok.")
            try await TestServer.with { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let installed = try await eventually(within: .seconds(60)) {
                    try await Self.eval(peer, "[H || {numbat_lager_backend, _} = H <- gen_event:which_handlers(lager_event)] =/= [].") == .atom("true")
                }
                #expect(installed, "the lager backend is in lager's sink")
                // What lager:error/2 becomes after lager's parse transform.
                _ = try await Self.eval(peer, #"lager:log(error, [{module, shop}, {function, pay}, {line, 7}, {node, node()}], "lager says ~p", [42]), logger:error("logger says ~p", [43]), lager:log(info, [{node, node()}], "lager quiet", []), ok."#)
                var found: [[String: Any]] = []
                let both = try await eventually(within: .seconds(30)) {
                    found = try await client.call(.get, "/api/notifications?node=\(id)&q=says", token: server.adminToken)["notifications"] as? [[String: Any]] ?? []
                    return found.count >= 2
                }
                #expect(both)
                let lager = found.first { $0["message"] as? String == "lager says 42" }
                #expect(lager?["source"] as? String == "lager" && lager?["severity"] as? String == "error")
                let metadata = lager?["metadata"] as? [String: String] ?? [:]
                #expect(metadata["module"] == "shop" && metadata["line"] == "7", "\(metadata)")
                #expect(found.first { $0["message"] as? String == "logger says 43" }?["source"] as? String == "logger")
                // Once each, and the info event under the level not at all (it would be in by now: same path, sent after).
                _ = try await Self.eval(peer, #"lager:log(error, [{node, node()}], "lager marker", []), ok."#)
                _ = try await eventually(within: .seconds(5)) {
                    try await client.call(.get, "/api/notifications?node=\(id)&q=marker", token: server.adminToken)["notifications"].map { ($0 as? [Any])?.isEmpty == false } ?? false
                }
                let all = (try await client.call(.get, "/api/notifications?node=\(id)", token: server.adminToken)["notifications"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
                #expect(all.filter { $0.hasSuffix("says 42") || $0.hasSuffix("says 43") }.count == 2, "\(all)")
                #expect(!all.contains("lager quiet"))
            }
        }
    }

    @Test("the flood: 10,000 errors/s for 10 s; node and server memory stay bounded, drops are counted")
    func flood() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let installed = try await eventually(within: .seconds(60)) {
                    try await Self.eval(peer, "lists:member(numbat_notifier, logger:get_handler_ids()).") == .atom("true")
                }
                #expect(installed)
                // The default handler goes first so the test measures Numbat's path, not the console.
                _ = try await Self.eval(peer, "logger:remove_handler(default), erlang:garbage_collect(), ok.")
                let nodeBefore = try #require(try await Self.eval(peer, "erlang:memory(total).").intValue)
                let serverBefore = residentBytes()
                // 100 errors every 10 ms for 10 s, paced by the node's clock, in a process of its own.
                _ = try await Self.eval(peer, """
                    Self = self(),
                    spawn(fun() ->
                        Start = erlang:monotonic_time(millisecond),
                        Loop = fun Loop(Tick) when Tick >= 1000 -> ok;
                                   Loop(Tick) ->
                                       [logger:error("flood ~b", [Tick * 100 + N]) || N <- lists:seq(1, 100)],
                                       Wait = Start + (Tick + 1) * 10 - erlang:monotonic_time(millisecond),
                                       timer:sleep(max(Wait, 0)), Loop(Tick + 1) end,
                        Loop(0),
                        persistent_term:put(numbat_flood_ms, erlang:monotonic_time(millisecond) - Start)
                    end), ok.
                    """)
                var nodePeak = nodeBefore
                var serverPeak = serverBefore
                var queuePeak = 0
                let finished = try await eventually(within: .seconds(30)) {
                    let sample = try await Self.eval(peer, "{persistent_term:get(numbat_flood_ms, running), erlang:memory(total), element(2, erlang:process_info(whereis(numbat_log_agent), message_queue_len))}.")
                    nodePeak = max(nodePeak, sample[element: 1]?.intValue ?? 0)
                    queuePeak = max(queuePeak, sample[element: 2]?.intValue ?? 0)
                    serverPeak = max(serverPeak, residentBytes())
                    return sample[element: 0] != .atom("running")
                }
                #expect(finished)
                let took = try await Self.eval(peer, "persistent_term:get(numbat_flood_ms).").intValue ?? 0
                #expect(took < 12_000, "the node logged 100,000 errors in \(took) ms")
                var dropped = 0
                var stored = 0
                _ = try await eventually(within: .seconds(60)) {
                    dropped = 0
                    stored = 0
                    var before: Int?
                    repeat {
                        let page = try await client.call(.get, "/api/notifications?node=\(id)&limit=1000" + (before.map { "&before=\($0)" } ?? ""), token: server.adminToken)
                        let entries = page["notifications"] as? [[String: Any]] ?? []
                        dropped += entries.compactMap { ($0["metadata"] as? [String: String])?["dropped"].flatMap(Int.init) }.reduce(0, +)
                        stored += entries.filter { ($0["message"] as? String)?.hasPrefix("flood ") == true }.count
                        before = page["next"] as? Int
                    } while before != nil
                    return stored + dropped == 100_000
                }
                #expect(stored + dropped == 100_000, "every event is stored or counted as dropped: \(stored) + \(dropped)")
                #expect(stored <= 13_000, "the agent forwards at most 1,000 a second: \(stored)")
                #expect(queuePeak <= 10_001, "the agent's queue stays bounded: \(queuePeak)")
                let nodeGrowth = nodePeak - nodeBefore
                let serverGrowth = serverPeak - serverBefore
                print("flood: node +\(nodeGrowth / 1024) KiB, server +\(serverGrowth / 1024) KiB, stored \(stored), dropped \(dropped), agent queue peak \(queuePeak)")
                #expect(nodeGrowth < 64 << 20, "node memory grew \(nodeGrowth) bytes")
                #expect(serverGrowth < 128 << 20, "server memory grew \(serverGrowth) bytes")
            }
        }
    }
}

/// This process's resident set size, from /proc (Linux).
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kilobytes * 1024
}
