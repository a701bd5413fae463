import ErlangTerm
import Foundation
import Hummingbird
import HummingbirdTesting
import NumbatTestSupport
import Testing

/// Safe tracing with real nodes: a hot function traced under load stops at its limits with
/// exactly that many events kept, while the tracer's queue and the run queue stay bounded;
/// afterwards the node has no tracer, no trace pattern, no flags and no agent left. Refusals
/// (busy node, bad mfa, bad match spec, unknown process) are clear errors; a family is traced
/// on each UP member.
@Suite("tracing with real nodes")
struct TracingTests {
    static func eval(_ peer: TestNode, _ text: String) async throws -> Term {
        try await NotificationsTests.eval(peer, text)
    }

    static func start(_ body: [String: Any], server: TestServer, client: any TestClientProtocol, token: String? = nil) async throws -> JSONResponse {
        try await client.call(.post, "/api/trace/sessions", body: json(body), token: token ?? server.adminToken)
    }

    /// The session once it has ended (nil if it did not within `within`).
    static func ended(_ id: String, within: Duration = .seconds(60), server: TestServer, client: any TestClientProtocol) async throws -> [String: Any]? {
        var session: [String: Any] = [:]
        let done = try await eventually(within: within) {
            session = try await client.call(.get, "/api/trace/sessions/\(id)", token: server.adminToken).object
            return session["state"] as? String == "ended"
        }
        return done ? session : nil
    }

    /// Every event the session kept, page by page.
    static func events(_ id: String, server: TestServer, client: any TestClientProtocol) async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var after: Int?
        repeat {
            let page = try await client.call(.get, "/api/trace/sessions/\(id)/events?limit=128" + (after.map { "&after=\($0)" } ?? ""), token: server.adminToken)
            all += page["events"] as? [[String: Any]] ?? []
            after = page["next"] as? Int
        } while after != nil
        return all
    }

    /// Two registered processes (numbat_hot1, numbat_hot2) calling lists:seq/2 in a loop, and a
    /// sampler (numbat_sampler) recording every 2 ms the tracer's queue length and the run queue.
    static let load = """
        Loop = fun Loop(N) -> _ = lists:seq(1, 3), case N rem 100 of 0 -> erlang:yield(); _ -> ok end, Loop(N + 1) end,
        register(numbat_hot1, spawn(fun() -> Loop(0) end)),
        register(numbat_hot2, spawn(fun() -> Loop(0) end)),
        Queue = fun() -> case whereis(numbat_trace_agent) of
                             undefined -> 0;
                             P -> case erlang:process_info(P, message_queue_len) of {message_queue_len, L} -> L; _ -> 0 end
                         end end,
        Sample = fun Sample(Q, R) -> receive {get, From} -> From ! {sampled, Q, R}, Sample(Q, R); stop -> ok
                                     after 2 -> Sample(max(Q, Queue()), max(R, erlang:statistics(run_queue))) end end,
        register(numbat_sampler, spawn(fun() -> Sample(0, 0) end)),
        ok.
        """

    static let unload = "[exit(whereis(N), kill) || N <- [numbat_hot1, numbat_hot2], whereis(N) =/= undefined], numbat_sampler ! stop, ok."

    /// What tracing left on the node: the tracer for new processes, lists:seq/2's pattern, the
    /// hot processes' flags, the agent process and its module.
    static let leftovers = """
        {erlang:trace_info(new, tracer), erlang:trace_info(new, flags), erlang:trace_info({lists, seq, 2}, traced),
         [erlang:trace_info(whereis(N), flags) || N <- [numbat_hot1, numbat_hot2]], whereis(numbat_trace_agent),
         code:is_loaded(numbat_trace_agent)}.
        """
    static let clean = "{{tracer,[]},{flags,[]},{traced,false},[{flags,[]},{flags,[]}],undefined,false}"

    @Test("a hot function under load: the session stops at max_count with exactly that many events; queues stay bounded; nothing is left",
          arguments: OTPRelease.installed)
    func hotFunction(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            try await TestServer.with { server, client in
                let node = try await MetricsTests.add(peer, to: server, client: client)
                _ = try await Self.eval(peer, Self.load)
                let started = try await Self.start(["node": node, "mfa": "lists:seq/2", "match_spec": "return_trace", "max_count": 500,
                                                    "max_rate": 100_000, "duration_s": 120], server: server, client: client)
                #expect(started.status == .created, "\(started.text)")
                let id = try #require(started["id"] as? String)
                #expect(started["target"] as? String == "lists:seq/2" && started["state"] as? String == "running")
                let session = try #require(try await Self.ended(id, server: server, client: client), "the session ends at its limit")
                let part = (session["nodes"] as? [[String: Any]])?.first ?? [:]
                #expect(part["end_reason"] as? String == "max_count" && part["kept"] as? Int == 500 && part["matched"] as? Int == 1, "\(session)")
                let events = try await Self.events(id, server: server, client: client)
                #expect(events.count == 500, "exactly max_count events kept")
                #expect(Set(events.compactMap { $0["kind"] as? String }) == ["call", "return_from"], "\(events.prefix(3))")
                #expect(events.contains { ($0["text"] as? String)?.hasPrefix("lists:seq(1, ") == true }, "\(events.prefix(3))")
                #expect(events.contains { ($0["text"] as? String)?.hasPrefix("lists:seq/2 -> [") == true }, "\(events.prefix(3))")
                #expect(events.allSatisfy { $0["node"] as? String == node && ($0["pid"] as? String)?.hasPrefix("<") == true })

                // Bounded while it ran: the tracer's queue (its own bound is 50000, checked after
                // every event) and the run queue.
                let sampled = try await Self.eval(peer, "numbat_sampler ! {get, self()}, receive {sampled, Q, R} -> {Q, R} after 5000 -> timeout end.")
                let (queue, run) = (sampled[element: 0]?.intValue ?? -1, sampled[element: 1]?.intValue ?? -1)
                #expect(queue >= 0 && queue <= 50_000 && run >= 0 && run <= 50, "tracer queue \(queue), run queue \(run)")
                print("tracing \(release): most seen during the session: tracer queue \(queue), run queue \(run)")

                // Nothing of the tracer is left, the load still running.
                var left = ""
                let cleaned = try await eventually(within: .seconds(30)) {
                    left = try await Self.eval(peer, Self.leftovers).erlangDescription
                    return left == Self.clean
                }
                #expect(cleaned, "left on the node: \(left)")
                _ = try await Self.eval(peer, Self.unload)
            }
        }
    }

    @Test("limits: rate (a kill switch), duration and stop end a session; a second session on a node is a 409; bad requests are 400s")
    func limitsAndRefusals() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with { server, client in
                let node = try await MetricsTests.add(peer, to: server, client: client)
                _ = try await Self.eval(peer, Self.load)

                // More than 50 per second: the rate ends it, with at most 50 kept.
                let rated = try await Self.start(["node": node, "mfa": "lists:seq/2", "max_count": 100_000, "max_rate": 50], server: server, client: client)
                let ratedID = try #require(rated["id"] as? String, "\(rated.text)")
                let rateEnded = try await Self.ended(ratedID, server: server, client: client)
                let ratePart = (rateEnded?["nodes"] as? [[String: Any]])?.first ?? [:]
                // At most 50 per window; a burst may straddle the end of the first window.
                #expect(ratePart["end_reason"] as? String == "rate_limit" && (1...100).contains(ratePart["kept"] as? Int ?? 0), "\(rateEnded ?? [:])")

                // A function nobody calls: the session runs until stopped; a second one is refused.
                let quiet = try await Self.start(["node": node, "mfa": "numbat_test_peer:ready/0", "duration_s": 600], server: server, client: client)
                let quietID = try #require(quiet["id"] as? String, "\(quiet.text)")
                let busy = try await Self.start(["node": node, "kind": "gc", "max_count": 5], server: server, client: client)
                #expect(busy.status == .conflict && busy.errorCode == "trace_busy", "\(busy.text)")
                #expect(try await Self.eval(peer, "erlang:trace_info({numbat_test_peer, ready, 0}, traced).").erlangDescription == "{traced,local}")
                let stopped = try await client.call(.delete, "/api/trace/sessions/\(quietID)", token: server.adminToken)
                #expect(stopped["state"] as? String == "ended", "\(stopped.text)")
                #expect(((stopped["nodes"] as? [[String: Any]])?.first?["end_reason"] as? String) == "stopped", "\(stopped.text)")
                #expect(try await client.call(.delete, "/api/trace/sessions/\(quietID)", token: server.adminToken).status == .ok, "stopping an ended session answers it")

                // The duration ends it.
                let timed = try await Self.start(["node": node, "kind": "gc", "process": "numbat_sampler", "max_count": 100_000, "max_rate": 100_000, "duration_s": 1],
                                                 server: server, client: client)
                let timedID = try #require(timed["id"] as? String, "\(timed.text)")
                let timedEnded = try await Self.ended(timedID, server: server, client: client)
                #expect(((timedEnded?["nodes"] as? [[String: Any]])?.first?["end_reason"] as? String) == "time_limit", "\(timedEnded ?? [:])")

                // Messages of a registered process.
                let echo = try await Self.eval(peer, "numbat_test_peer:start_echo(), ok.")
                #expect(echo == .atom("ok"))
                let messages = try await Self.start(["node": node, "kind": "messages", "process": "numbat_echo", "max_count": 2], server: server, client: client)
                let messagesID = try #require(messages["id"] as? String, "\(messages.text)")
                _ = try await Self.eval(peer, "numbat_echo ! {self(), hello_numbat}, receive {echo, _} -> ok after 5000 -> timeout end.")
                let messagesEnded = try await Self.ended(messagesID, server: server, client: client)
                #expect(((messagesEnded?["nodes"] as? [[String: Any]])?.first?["end_reason"] as? String) == "max_count", "\(messagesEnded ?? [:])")
                let traced = try await Self.events(messagesID, server: server, client: client)
                #expect(traced.map { $0["kind"] as? String ?? "" } == ["receive", "send"] && (traced.first?["text"] as? String)?.contains("hello_numbat") == true, "\(traced)")

                // Refusals, each before or by the node, none leaving anything behind.
                var refusals: [([String: Any], HTTPResponse.Status, String)] = []
                refusals.append((["node": node, "mfa": "lists"], .badRequest, "invalid_mfa"))
                refusals.append((["node": node, "mfa": "no_such_module_numbat:f/1"], .badRequest, "invalid_mfa"))
                refusals.append((["node": node, "mfa": "lists:numbat_misspelt_fun/3"], .badRequest, "invalid_mfa"))
                refusals.append((["node": node, "mfa": "lists:seq/2", "match_spec": "[{"], .badRequest, "invalid_match_spec"))
                refusals.append((["node": node, "mfa": "lists:seq/2", "match_spec": "[{'_', [], [{no_such_action}]}]"], .badRequest, "invalid_match_spec"))
                refusals.append((["node": node, "kind": "messages"], .badRequest, "invalid_process"))
                refusals.append((["node": node, "kind": "messages", "process": "numbat_nobody"], .notFound, "process_not_found"))
                refusals.append((["node": node, "mfa": "lists:seq/2", "max_count": 0], .badRequest, "invalid_max_count"))
                refusals.append((["node": node, "mfa": "lists:seq/2", "sample": 1], .badRequest, "unknown_field"))
                refusals.append((["mfa": "lists:seq/2"], .badRequest, "invalid_target"))
                refusals.append((["node": UUID().uuidString, "mfa": "lists:seq/2"], .notFound, "node_not_found"))
                for (body, status, code) in refusals {
                    let refused = try await Self.start(body, server: server, client: client)
                    #expect(refused.status == status && refused.errorCode == code, "\(body): \(refused.text)")
                }
                // The wrong names left no atom on the node (they travel as binaries).
                let made = try await Self.eval(peer, "[N || N <- [<<\"no_such_module_numbat\">>, <<\"numbat_misspelt_fun\">>, <<\"numbat_nobody\">>], is_atom(catch binary_to_existing_atom(N, utf8))].")
                #expect(made.erlangDescription == "[]", "atoms made of wrong names: \(made.erlangDescription)")
                let viewer = try #require(try await client.call(.post, "/api/tokens", body: json(["name": "v", "role": "viewer"]), token: server.adminToken)["secret"] as? String)
                #expect(try await Self.start(["node": node, "mfa": "lists:seq/2"], server: server, client: client, token: viewer).status == .forbidden)
                #expect(try await client.call(.get, "/api/trace/sessions/\(UUID())", token: server.adminToken).status == .notFound)
                #expect(try await client.call(.get, "/api/trace/sessions/\(ratedID)/events?after=x", token: server.adminToken).status == .badRequest)

                let listed = try await client.call(.get, "/api/trace/sessions", token: viewer)["sessions"] as? [[String: Any]] ?? []
                #expect(listed.compactMap { $0["id"] as? String } == [messagesID, timedID, quietID, ratedID], "newest first: \(listed.count)")
                _ = try await Self.eval(peer, Self.unload)
                var left = ""
                let cleaned = try await eventually(within: .seconds(30)) {
                    left = try await Self.eval(peer, "{erlang:trace_info(new, tracer), erlang:trace_info({lists, seq, 2}, traced), erlang:trace_info({numbat_test_peer, ready, 0}, traced), whereis(numbat_trace_agent)}.").erlangDescription
                    return left == "{{tracer,[]},{traced,false},{traced,false},undefined}"
                }
                #expect(cleaned, "left on the node: \(left)")
            }
        }
    }

    @Test("a node that stops answering (SIGSTOP) mid-session: the part ends as failed by its duration and a grace; thawed, the node clears the trace itself")
    func frozenNode() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with { server, client in
                let node = try await MetricsTests.add(peer, to: server, client: client)
                let started = try await Self.start(["node": node, "mfa": "numbat_test_peer:ready/0", "duration_s": 2], server: server, client: client)
                let id = try #require(started["id"] as? String, "\(started.text)")
                peer.freeze()
                // The tracer cannot say it ended; the server gives up at 2 s + 30 s.
                let session = try await Self.ended(id, within: .seconds(90), server: server, client: client)
                peer.thaw()
                let part = (session?["nodes"] as? [[String: Any]])?.first ?? [:]
                // The watchdog's words: at 32 s it comes before the ticks (60 s) notice the freeze.
                #expect(part["end_reason"] as? String == "failed" && (part["error"] as? String)?.contains("no end came from the tracer") == true,
                        "\(session ?? [:])")
                var left = ""
                let cleaned = try await eventually(within: .seconds(60)) {
                    left = (try? await Self.eval(peer, "{erlang:trace_info({numbat_test_peer, ready, 0}, traced), erlang:trace_info(new, tracer), whereis(numbat_trace_agent)}."))?.erlangDescription ?? "no answer"
                    return left == "{{traced,false},{tracer,[]},undefined}"
                }
                #expect(cleaned, "left on the node: \(left)")
            }
        }
    }

    @Test("a family: each UP member traced with the same limits, each part ending at its own max_count; events streamed on the WebSocket")
    func family() async throws {
        try await TestNode.withNodes(2, release: .otp25) { peers in
            try await TestServer.with(.live) { server, client in
                var ids: [String] = []
                for peer in peers { ids.append(try await MetricsTests.add(peer, to: server, client: client)) }
                let family = try #require(try await client.call(.get, "/api/topo/nodes/\(ids[0])", token: server.adminToken)["family_id"] as? String)
                #expect(try await client.call(.get, "/api/topo/nodes/\(ids[1])", token: server.adminToken)["family_id"] as? String == family)
                for peer in peers { _ = try await Self.eval(peer, Self.load) }
                let nodeIDs = ids
                try await client.ws("/api/ws?token=\(server.adminToken)") { inbound, outbound, _ in
                    let watchdog = Task {
                        try await Task.sleep(for: .seconds(90))
                        try await outbound.close(.goingAway, reason: "test timed out")
                    }
                    defer { watchdog.cancel() }
                    var messages = inbound.messages(maxSize: 16 << 20).makeAsyncIterator()
                    _ = try await LifecycleTests.next(&messages)
                    try await outbound.write(.text(json(["subscribe": ["topics": ["trace"]]])))
                    _ = try await LifecycleTests.next(&messages) { $0["type"] as? String == "subscribed" }
                    let started = try await Self.start(["family": family, "mfa": "lists:seq/2", "max_count": 30, "max_rate": 100_000], server: server, client: client)
                    let id = try #require(started["id"] as? String, "\(started.text)")
                    #expect((started["nodes"] as? [[String: Any]])?.count == 2 && started["family"] as? String == family, "\(started.text)")
                    var streamed: [String: Int] = [:]
                    var final: [String: Any]?
                    while final == nil, let message = try await LifecycleTests.next(&messages, where: { _ in true }) {
                        if message["type"] as? String == "trace_events", message["session"] as? String == id {
                            for event in message["events"] as? [[String: Any]] ?? [] { streamed[event["node"] as? String ?? "?", default: 0] += 1 }
                        } else if message["type"] as? String == "trace_session", let session = message["session"] as? [String: Any],
                                  session["id"] as? String == id, session["state"] as? String == "ended" {
                            final = session
                        }
                    }
                    let parts = final?["nodes"] as? [[String: Any]] ?? []
                    #expect(parts.count == 2 && parts.allSatisfy { $0["end_reason"] as? String == "max_count" && $0["kept"] as? Int == 30 }, "\(final ?? [:])")
                    #expect(streamed == [nodeIDs[0]: 30, nodeIDs[1]: 30], "every kept event was streamed, per node: \(streamed)")
                }
                let sessions = try await client.call(.get, "/api/trace/sessions", token: server.adminToken)["sessions"] as? [[String: Any]] ?? []
                let stored = try await Self.events(sessions.first?["id"] as? String ?? "", server: server, client: client)
                #expect(stored.count == 60, "both nodes' events kept")
                for peer in peers { _ = try await Self.eval(peer, Self.unload) }
            }
        }
    }
}
