import ErlangDist
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOConcurrencyHelpers
import NumbatCore
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// Issue 13: any server of a cluster answers for the whole system. A WebSocket client of one
/// server receives the events of every server, each once; a request about a node that another
/// server holds is forwarded to it. Real `numbat serve` processes on a real PostgreSQL, real
/// OTP 25 nodes, and a WebSocket client written here from RFC 6455 (no library between the
/// test and the wire).
@Suite("events and per-node requests across a cluster of servers", .requires(.postgres, .otp(.otp25)))
struct ClusterEventsTests {
    @Test("a WebSocket client on A receives the node events of nodes B manages, each once and in order; a 20 kB event crosses; none is acted on twice")
    func eventsCross() async throws {
        try await TwoServers.with { cluster in
            try await TestNode.withNodes(2, release: .otp25, cookie: "events-cookie") { peers in
                let onA = try await TestWebSocket.connect(cluster.a.url, path: "/api/ws")
                defer { onA.close() }
                let onB = try await TestWebSocket.connect(cluster.b.url, path: "/api/ws")
                defer { onB.close() }
                let b = try await cluster.serverID(of: cluster.b)
                let a = try await cluster.serverID(of: cluster.a)

                // Added through B: B publishes node_up (from UNINIT); A's client gets it from B.
                var peers = peers
                var added: [UUID] = []
                for peer in peers { added.append(try await cluster.addNode(peer, through: cluster.b)) }
                for id in added {
                    let arrived = await onA.waitFor(within: .seconds(60)) { $0.contains { Self.isState($0, "node_up", node: id, from: "UNINIT", server: b) } }
                    #expect(arrived, "A's client did not receive node_up of \(id) from B: \(onA.types)")
                }

                // A node B holds once the servers settle (add more until B holds one).
                var extra: [TestNode] = []
                defer { for node in extra { node.stop() } }
                var held: (peer: TestNode, id: UUID)?
                for _ in 0..<8 {
                    let leases = try await cluster.settledLeases(nodes: added.count)
                    if let id = leases[b]?.first, let index = added.firstIndex(of: id) {
                        held = (peers[index], id)
                        break
                    }
                    let node = try await TestNode.start(release: .otp25, cookie: "events-cookie")
                    extra.append(node)
                    peers.append(node)
                    added.append(try await cluster.addNode(node, through: cluster.b))
                }
                let (victim, victimID) = try #require(held, "server B never held a node")

                // Killed: B marks it DOWN; A's client gets node_down from B.
                victim.stop()
                let down = await onA.waitFor(within: .seconds(60)) { $0.contains { Self.isState($0, "node_down", node: victimID, from: "UP", server: b) } }
                #expect(down, "A's client did not receive node_down from B: \(onA.types)")
                // Back under the same name: B reconnects; node_up from DOWN.
                let revived = try await TestNode.start(release: .otp25, cookie: "events-cookie", alive: victim.name.alive)
                extra.append(revived)
                let up = await onA.waitFor(within: .seconds(60)) { $0.contains { Self.isState($0, "node_up", node: victimID, from: "DOWN", server: b) } }
                #expect(up, "A's client did not receive node_up again from B: \(onA.types)")

                // Bigger than a NOTIFY payload (8000 bytes): a family with a 20,000-character description.
                let description = String(repeating: "0123456789", count: 2000)
                let big = try await cluster.post(cluster.b, "/api/topo/node_families", ["name": "big", "description": description])
                #expect(big.status == 201, "\(big.text)")
                // A sentinel from B after everything: B's events arrive in order, so once it is
                // here every earlier one is, and any duplicate would be too.
                let sentinel = try await cluster.post(cluster.b, "/api/topo/node_families", ["name": "sentinel"])
                #expect(sentinel.status == 201, "\(sentinel.text)")
                let done = await onA.waitFor(within: .seconds(60)) { $0.contains { Self.isFamily($0, "sentinel") } }
                #expect(done, "the sentinel did not arrive on A: \(onA.types)")
                let seenOnB = await onB.waitFor(within: .seconds(60)) { $0.contains { Self.isFamily($0, "sentinel") } }
                #expect(seenOnB, "the sentinel did not arrive on B's own client")

                // Both servers' listening connections cut (as by a PostgreSQL restart or a network
                // cut), and B publishes at once: A reconnects and catches up, missing nothing.
                let cut = try await cluster.postgres.psql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'numbat cluster events'", database: "numbat")
                #expect(cut == "2", "the listening connections: \(cut)")
                for name in ["cut-1", "cut-2", "cut-3"] {
                    let created = try await cluster.post(cluster.b, "/api/topo/node_families", ["name": name])
                    #expect(created.status == 201, "\(created.text)")
                }
                let caughtUp = await onA.waitFor(within: .seconds(60)) { $0.contains { Self.isFamily($0, "cut-3") } }
                #expect(caughtUp, "A did not catch up with B's events after its listening connection was cut: \(onA.types)")
                let afterCut = onA.messages.compactMap { ($0["family"] as? [String: Any])?["name"] as? String }.filter { $0.hasPrefix("cut-") }
                #expect(afterCut == ["cut-1", "cut-2", "cut-3"], "after the cut, B's events on A: \(afterCut)")
                let relistened = await TwoServers.eventually(within: .seconds(60)) { cluster.a.output.contains("listening for the other servers' events again") }
                #expect(relistened, "A did not say it listens again")

                let messages = onA.messages
                let bigOnes = messages.filter { Self.isFamily($0, "big") }
                #expect(bigOnes.count == 1, "the large event arrived \(bigOnes.count) times")
                let family = bigOnes.first?["family"] as? [String: Any]
                #expect((family?["description"] as? String) == description, "the large event arrived cut or changed")
                #expect(bigOnes.first?["server"] as? String == b.uuidString, "the large event names its server")
                for id in added {
                    #expect(messages.filter { Self.isState($0, "node_up", node: id, from: "UNINIT", server: b) }.count == 1, "node_up of \(id) not exactly once")
                }
                let downs = messages.indices.filter { Self.isState(messages[$0], "node_down", node: victimID, from: "UP", server: b) }
                let ups = messages.indices.filter { Self.isState(messages[$0], "node_up", node: victimID, from: "DOWN", server: b) }
                #expect(downs.count == 1 && ups.count == 1, "node_down \(downs.count) times, node_up again \(ups.count) times")
                #expect((downs.first ?? 0) < (ups.first ?? 0), "B's events arrived out of order")
                let bigIndex = messages.firstIndex { Self.isFamily($0, "big") } ?? -1
                let sentinelIndex = messages.firstIndex { Self.isFamily($0, "sentinel") } ?? -1
                #expect(bigIndex < sentinelIndex && (ups.first ?? 0) < bigIndex, "B's events arrived out of order")
                // A never hears its own events back from the log.
                #expect(!messages.contains { $0["server"] as? String == a.uuidString }, "A presented its own events again")

                // B's own client: its events once, as its own (no server field); A's from A.
                let onBMessages = onB.messages
                #expect(onBMessages.filter { Self.isFamily($0, "big") && $0["server"] == nil }.count == 1, "B's client: its own event not exactly once")
                #expect(!onBMessages.contains { $0["server"] as? String == b.uuidString }, "B presented its own events again")

                // Acted on once: the DOWN notification is stored by B alone (A did not store the
                // relayed event again), and B's audit/alarms are not doubled either.
                struct Notifications: Decodable {
                    struct Entry: Decodable { var message: String }
                    var notifications: [Entry]
                }
                let stored = try await cluster.get(Notifications.self, cluster.a, "/api/notifications?node=\(victimID.uuidString)&q=is%20DOWN&limit=100")
                let texts = stored.notifications.map(\.message)
                let victimName = victim.name.description
                #expect(texts.filter { $0.hasPrefix("\(victimName) is DOWN") }.count == 1, "the DOWN notification not stored once: \(texts)")
                #expect(texts.filter { $0.hasPrefix("alarm raised on \(victimName)") }.count == 1, "the alarm's notification not stored once: \(texts)")
                struct Alarms: Decodable {
                    struct Entry: Decodable {
                        var key: String
                        var raise_count: Int
                    }
                    var alarms: [Entry]
                }
                let alarms = try await cluster.get(Alarms.self, cluster.a, "/api/alarms?node=\(victimID.uuidString)&state=active,cleared")
                let nodeDown = alarms.alarms.filter { $0.key == "node_down" }
                #expect(nodeDown.count == 1 && nodeDown.first?.raise_count == 1, "node_down alarms: \(nodeDown)")
            }
        }
    }

    @Test("per-node requests on a server that does not hold the node are answered by the holder, with the caller's token; an unreachable holder is a 503 naming it")
    func requestsForwarded() async throws {
        try await TwoServers.with(extraArguments: ["--require-token"]) { cluster in
            try await TestNode.withNodes(2, release: .otp25, cookie: "forward-cookie") { peers in
                let token = try cluster.adminToken()
                let b = try await cluster.serverID(of: cluster.b, token: token)
                let a = try await cluster.serverID(of: cluster.a, token: token)
                var added: [UUID] = []
                var names: [UUID: String] = [:]
                var extra: [TestNode] = []
                defer { for node in extra { node.stop() } }
                for peer in peers {
                    let id = try await cluster.addNode(peer, through: cluster.a, token: token)
                    added.append(id)
                    names[id] = peer.name.description
                }
                var heldByB: UUID?
                for _ in 0..<8 {
                    let leases = try await cluster.settledLeases(nodes: added.count, token: token)
                    if let id = leases[b]?.first {
                        heldByB = id
                        break
                    }
                    let node = try await TestNode.start(release: .otp25, cookie: "forward-cookie")
                    extra.append(node)
                    let id = try await cluster.addNode(node, through: cluster.a, token: token)
                    added.append(id)
                    names[id] = node.name.description
                }
                let node = try #require(heldByB, "server B never held a node")
                let name = try #require(names[node])

                // rpc through A, which holds no connection to the node: B's answer. Both servers
                // need tokens, so B answering proves the caller's Authorization went along.
                let call = ["module": "erlang", "function": "node", "args": [Any]()] as [String: Any]
                let answered = try await cluster.post(cluster.a, "/api/nodes/\(node.uuidString)/rpc", call, token: token)
                #expect(answered.status == 200, "\(answered.text)")
                #expect((answered.json?["erlang"] as? String)?.contains(name) == true, "\(answered.text)")
                #expect(answered.answeredBy == b, "the rpc ran on \(answered.answeredBy?.uuidString ?? "?"), not on B")
                let refused = try await cluster.post(cluster.a, "/api/nodes/\(node.uuidString)/rpc", call)
                #expect(refused.status == 401, "no token: \(refused.text)")
                // The call ran once, on B: one audit entry.
                struct Audit: Decodable {
                    struct Entry: Decodable { var command: String }
                    var entries: [Entry]
                }
                let audit = try await cluster.get(Audit.self, cluster.a, "/api/audit?node=\(node.uuidString)", token: token)
                #expect(audit.entries.filter { $0.command.contains("erlang:node") }.count == 1, "audit: \(audit.entries.map(\.command))")

                // The explorers and the latest metrics, also B's.
                let processes = try await cluster.request(cluster.a, "GET", "/api/nodes/\(node.uuidString)/processes?limit=3", token: token)
                #expect(processes.status == 200 && (processes.json?["processes"] as? [Any])?.isEmpty == false, "\(processes.text)")
                #expect(processes.answeredBy == b)
                let ets = try await cluster.request(cluster.a, "GET", "/api/nodes/\(node.uuidString)/ets?limit=3", token: token)
                #expect(ets.status == 200, "\(ets.text)")
                let level = try await cluster.request(cluster.a, "PUT", "/api/notifications/nodes/\(node.uuidString)/level", body: ["level": "warning"], token: token)
                #expect(level.status == 200 && level.json?["level"] as? String == "warning", "\(level.text)")

                // An assistant's MCP calls of the node-bound tools through A: B's answers; a
                // tool any server answers stays on A.
                let mcpHeaders = ["Accept": "application/json, text/event-stream"]
                func mcpCall(_ tool: String, _ arguments: [String: Any]) async throws -> TwoServers.Answer {
                    try await cluster.post(cluster.a, "/mcp", ["jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                                              "params": ["name": tool, "arguments": arguments]],
                                           token: token, headers: mcpHeaders)
                }
                let mcpRPC = try await mcpCall("rpc", ["node": node.uuidString, "module": "erlang", "function": "node"])
                #expect(mcpRPC.status == 200 && mcpRPC.text.contains(name) && !mcpRPC.text.contains("\"isError\":true"), "\(mcpRPC.text)")
                #expect(mcpRPC.answeredBy == b, "the MCP rpc ran on \(mcpRPC.answeredBy?.uuidString ?? "?"), not on B")
                let mcpTop = try await mcpCall("top_processes", ["node": node.uuidString, "limit": 3])
                #expect(mcpTop.status == 200 && mcpTop.text.contains("pid") && !mcpTop.text.contains("\"isError\":true"), "\(mcpTop.text)")
                #expect(mcpTop.answeredBy == b, "top_processes ran on \(mcpTop.answeredBy?.uuidString ?? "?"), not on B")
                let mcpNodes = try await mcpCall("nodes", [:])
                #expect(mcpNodes.status == 200 && mcpNodes.text.lowercased().contains(node.uuidString.lowercased()), "\(mcpNodes.text)")
                #expect(mcpNodes.answeredBy == nil, "a tool any server answers was forwarded")
                // A trace session on B's node started through A runs on B (the tracer needs the
                // node's connection), and is stopped through A on B: it ends as stopped.
                let trace = try await cluster.post(cluster.a, "/api/trace/sessions",
                                                   ["node": node.uuidString, "kind": "gc", "max_count": 100_000, "max_rate": 100_000, "duration_s": 120], token: token)
                #expect(trace.status == 201 && trace.answeredBy == b, "\(trace.status) \(trace.text)")
                if let session = trace.json?["id"] as? String {
                    let stopped = try await cluster.request(cluster.a, "DELETE", "/api/trace/sessions/\(session)", token: token)
                    #expect(stopped.status == 200 && stopped.answeredBy == b, "\(stopped.status) \(stopped.text)")
                    let ended = try await TwoServers.eventually(within: .seconds(60)) {
                        let read = try await cluster.request(cluster.a, "GET", "/api/trace/sessions/\(session)", token: token)
                        return read.json?["state"] as? String == "ended" && read.text.contains("\"stopped\"")
                    }
                    #expect(ended, "the session did not end as stopped")
                }
                let mcpAudit = try await cluster.get(Audit.self, cluster.a, "/api/audit?node=\(node.uuidString)", token: token)
                #expect(mcpAudit.entries.filter { $0.command.contains("erlang:node") }.count == 2, "audit: \(mcpAudit.entries.map(\.command))")

                // Live metrics through A: a WebSocket relayed from B's.
                let live = try await TestWebSocket.connect(cluster.a.url, path: "/api/metrics/live?node=\(node.uuidString)&metrics=process_count",
                                                           headers: ["Authorization": "Bearer \(token)"])
                defer { live.close() }
                let sample = await live.waitFor(within: .seconds(60)) { messages in
                    messages.contains { $0["type"] as? String == "live" && (($0["values"] as? [String: Any])?["process_count"] as? Double ?? 0) > 0 }
                }
                #expect(sample, "no live sample through A: \(live.messages)")

                // A request already forwarded once is answered where it lands, never sent on.
                let bounced = try await cluster.request(cluster.a, "GET", "/api/nodes/\(node.uuidString)/ets?limit=1", token: token,
                                                        headers: [NodeRequestRouting.forwardedHeader: UUID().uuidString])
                #expect(bounced.answeredBy == a, "a forwarded request was forwarded again: \(bounced.status) \(bounced.text)")

                // B holds the node but cannot be reached at its recorded address (as behind a
                // network cut): A says who holds the node and that it cannot be reached.
                let bName = try await cluster.serverNodeName(b, token: token)
                let recorded = try await cluster.postgres.psql("SELECT api_url FROM cluster_server WHERE id = '\(b.uuidString.lowercased())'", database: "numbat")
                _ = try await cluster.postgres.psql("UPDATE cluster_server SET api_url = 'http://127.0.0.1:1' WHERE id = '\(b.uuidString.lowercased())'",
                                                    database: "numbat")
                let unreachable = try await cluster.post(cluster.a, "/api/nodes/\(node.uuidString)/rpc", call, token: token)
                #expect(unreachable.status == 503, "\(unreachable.text)")
                let error = unreachable.json?["error"] as? [String: Any]
                #expect(error?["code"] as? String == "holder_unreachable", "\(unreachable.text)")
                #expect((error?["message"] as? String)?.contains(bName) == true, "the 503 names the holder: \(unreachable.text)")
                #expect((error?["message"] as? String)?.contains("http://127.0.0.1:1") == true, "the 503 says where it tried: \(unreachable.text)")
                _ = try await cluster.postgres.psql("UPDATE cluster_server SET api_url = '\(recorded)' WHERE id = '\(b.uuidString.lowercased())'",
                                                    database: "numbat")
                // B gone (SIGKILL): once its lease expires A takes the node over and answers itself.
                cluster.b.kill()
                let takenOver = try await TwoServers.eventually(within: .seconds(120)) {
                    let again = try await cluster.post(cluster.a, "/api/nodes/\(node.uuidString)/rpc", call, token: token)
                    return again.status == 200 && again.answeredBy == a && (again.json?["erlang"] as? String)?.contains(name) == true
                }
                #expect(takenOver, "A did not answer for the node after B was gone")
            }
        }
    }

    // MARK: - Event matching

    static func isState(_ message: [String: Any], _ type: String, node: UUID, from: String, server: UUID) -> Bool {
        guard message["type"] as? String == type, message["from"] as? String == from, message["server"] as? String == server.uuidString,
              let body = message["node"] as? [String: Any], let id = body["id"] as? String else { return false }
        return UUID(uuidString: id) == node
    }

    static func isFamily(_ message: [String: Any], _ name: String) -> Bool {
        message["type"] as? String == "family_created" && (message["family"] as? [String: Any])?["name"] as? String == name
    }
}

/// The relay and forwarding decisions, without servers: `ClusterEventCursor`,
/// `NodeRequestRouting`, the relay's encoding, and two relays sharing an in-memory log.
@Suite("cluster event relay and request forwarding decisions")
struct PureClusterEventsTests {
    let me = UUID()
    let other = UUID()
    let third = UUID()

    @Test("the cursor presents each event of another server once, in order, and never this server's own")
    func cursor() {
        var cursor = ClusterEventCursor(me: me)
        #expect(cursor.readFrom(origin: other, lastID: 5) == nil, "nothing before listening began")
        cursor.start(heads: [other: 10, me: 12])
        #expect(cursor.readFrom(origin: other, lastID: 10) == nil, "what the log held at the start is history")
        #expect(cursor.readFrom(origin: me, lastID: 40) == nil, "own events are never read back")
        let own = cursor.accept(origin: me, id: 41)
        #expect(!own)
        #expect(cursor.readFrom(origin: other, lastID: 14) == 10)
        let (first, second) = (cursor.accept(origin: other, id: 11), cursor.accept(origin: other, id: 14))
        #expect(first && second)
        let (again, older) = (cursor.accept(origin: other, id: 14), cursor.accept(origin: other, id: 12))
        #expect(!again && !older, "presented already, or older")
        #expect(cursor.readFrom(origin: other, lastID: 14) == nil, "a signal seen twice reads nothing")
        // A server that started after this one: all of its events are new.
        #expect(cursor.readFrom(origin: third, lastID: 3) == 0)
        let newcomer = cursor.accept(origin: third, id: 1)
        #expect(newcomer)
        // After a reconnection: what each origin appended meanwhile.
        let behind = cursor.behind(heads: [other: 20, third: 1, me: 50])
        #expect(behind.count == 1 && behind.first?.origin == other && behind.first?.after == 14)
        // Origins pruned out of the log are forgotten; one that appends again is read from 0.
        cursor.forget(except: [other: 20])
        #expect(cursor.positions[third] == nil && cursor.positions[other] == 14)
        cursor.start(heads: [:])
        #expect(cursor.positions[other] == 14, "starting twice changes nothing")
    }

    @Test("only requests that need the node's holder are routed to it")
    func routes() {
        let node = UUID()
        let id = node.uuidString
        func route(_ method: String, _ path: String, query: [String: String] = [:]) -> NodeRequestRouting.Route? {
            NodeRequestRouting.route(method: method, path: path, query: { query[$0] })
        }
        for (method, path) in [("POST", "/api/nodes/\(id)/rpc"), ("GET", "/api/nodes/\(id)/processes"), ("GET", "/api/nodes/\(id)/processes/%3C0.80.0%3E"),
                               ("GET", "/api/nodes/\(id)/ets"), ("GET", "/api/metrics/nodes/\(id)"), ("PUT", "/api/metrics/nodes/\(id)/interval"),
                               ("GET", "/api/notifications/nodes/\(id)/level"), ("PUT", "/api/notifications/nodes/\(id)/level"),
                               ("DELETE", "/api/topo/nodes/\(id)"), ("POST", "/api/orch/nodes/\(id)/start"), ("POST", "/api/orch/nodes/\(id)/stop"),
                               ("POST", "/api/orch/nodes/\(id)/restart"), ("DELETE", "/api/orch/nodes/\(id)")] {
            #expect(route(method, path) == .init(node: node), "\(method) \(path)")
        }
        #expect(route("GET", "/api/metrics/live", query: ["node": id]) == .init(node: node, isWebSocket: true))
        // Read from the shared database by any server, or not about one node.
        for (method, path) in [("GET", "/api/topo/nodes/\(id)"), ("GET", "/api/topo/nodes"), ("GET", "/api/metrics/nodes/\(id)/series"),
                               ("GET", "/api/nodes/\(id)/rpc"), ("POST", "/api/nodes/not-a-uuid/rpc"), ("GET", "/api/notifications"),
                               ("GET", "/api/cluster"), ("GET", "/api/ws"), ("POST", "/api/actions/add-node"), ("GET", "/nodes/\(id)/ets"),
                               ("GET", "/api/orch/nodes/\(id)"), ("POST", "/api/orch/nodes/\(id)/reboot")] {
            #expect(route(method, path) == nil, "\(method) \(path)")
        }
        #expect(route("GET", "/api/metrics/live") == nil && route("GET", "/api/metrics/live", query: ["node": "x"]) == nil)
    }

    @Test("forwarded to the holder only when it is another server, and a forwarded request is never forwarded again")
    func decisions() {
        let holder = ClusterServer(id: other, name: "b:8080", nodeName: "numbat@b", startedAt: Date(), heartbeatAt: Date(), apiURL: "http://10.0.0.2:8080/")
        #expect(NodeRequestRouting.decide(me: me, holder: nil, alreadyForwarded: false) == .local, "nobody holds it: answered here")
        #expect(NodeRequestRouting.decide(me: other, holder: holder, alreadyForwarded: false) == .local, "held here")
        #expect(NodeRequestRouting.decide(me: me, holder: holder, alreadyForwarded: false) == .forward(holder))
        #expect(NodeRequestRouting.decide(me: me, holder: holder, alreadyForwarded: true) == .local, "no loops")
        var starting = holder
        starting.apiURL = nil
        #expect(NodeRequestRouting.decide(me: me, holder: starting, alreadyForwarded: false) == .unavailable(starting))
        #expect(NodeRequestRouting.url(on: holder, path: "/api/nodes/x/ets", query: "limit=3")?.absoluteString == "http://10.0.0.2:8080/api/nodes/x/ets?limit=3")
        #expect(NodeRequestRouting.url(on: holder, path: "/api/metrics/live", query: "node=x", webSocket: true)?.absoluteString == "ws://10.0.0.2:8080/api/metrics/live?node=x")
        let error = NodeRequestRouting.unreachable(holder, node: UUID(), reason: "connection refused")
        #expect(error.kind == .unavailable && error.code == "holder_unreachable")
        #expect(error.message.contains("b:8080") && error.message.contains("numbat@b") && error.message.contains("connection refused"))
    }

    @Test("every kind of event survives the log's encoding, large ones whole")
    func encoding() throws {
        let node = ManagedNode(name: "a@h", state: .up, host: "h", lastError: String(repeating: "x", count: 20_000))
        let family = NodeFamily(name: "f", description: String(repeating: "d", count: 9000), kind: .deployment, nodeSelection: "random",
                                bootstrapStrategy: "distributed_erlang", bootstrapStrategyOptions: ["k": "v"])
        let kinds: [NumbatEvent.Kind] = [.nodeAdded(node), .nodeStateChanged(node: node, from: .down), .nodeRemoved(id: node.id, name: node.name),
                                         .nodeAdopted(node), .nodeReleased(id: node.id, name: node.name), .familyCreated(family),
                                         .familyRemoved(id: family.id, name: family.name),
                                         .agentUnavailable(node: node, agent: "metrics", reason: "r", fallback: "f")]
        for kind in kinds {
            let event = NumbatEvent(kind, time: Date(timeIntervalSince1970: 1_800_000_000.123))
            let body = try ClusterEventRelay.encode(event)
            #expect(try ClusterEventRelay.decode(body) == event)
        }
        #expect(try ClusterEventRelay.encode(NumbatEvent(.familyCreated(family))).count > 8000)
    }

    @Test("two relays on one log: each bus's watchers get the other's events once, in order; services get none")
    func relays() async throws {
        let log = MemoryEventLog()
        let (busA, busB) = (EventBus(), EventBus())
        var settings = ClusterEventRelay.Settings()
        settings.batchSize = 3
        let relayA = ClusterEventRelay(origin: me, log: log, bus: busA, logger: .init(label: "a"), settings: settings)
        let relayB = ClusterEventRelay(origin: other, log: log, bus: busB, logger: .init(label: "b"), settings: settings)
        try await relayA.start()
        try await relayB.start()
        let watchA = busA.watch()
        let servicesA = busA.subscribe()
        let watchB = busB.watch()
        let names = (0..<10).map { "f\($0)" }
        for name in names { busB.publish(.familyCreated(NodeFamily(name: name, kind: .deployment, nodeSelection: "random", bootstrapStrategy: "x"))) }
        // A's watchers: B's ten, in order, from B.
        var seen: [String] = []
        for await delivery in watchA {
            guard case .familyCreated(let family) = delivery.event.kind else { continue }
            #expect(delivery.origin == other)
            seen.append(family.name)
            if seen.count == names.count { break }
        }
        #expect(seen == names)
        // A service of A sees none of them: the first thing it gets is A's own next event.
        busA.publish(.familyRemoved(id: UUID(), name: "mine"))
        for await event in servicesA {
            if case .familyRemoved(_, let name) = event.kind { #expect(name == "mine") } else { Issue.record("a service of A got \(event)") }
            break
        }
        // B's watchers: its ten as its own, then A's event from A; nothing twice.
        var onB: [(String, UUID?)] = []
        for await delivery in watchB {
            switch delivery.event.kind {
            case .familyCreated(let family): onB.append((family.name, delivery.origin))
            case .familyRemoved(_, let name): onB.append((name, delivery.origin))
            default: continue
            }
            if onB.count == names.count + 1 { break }
        }
        #expect(onB.map(\.0) == names + ["mine"])
        #expect(onB.dropLast().allSatisfy { $0.1 == nil } && onB.last?.1 == me)
        await relayA.stop()
        await relayB.stop()
        #expect(log.count == names.count + 1, "every event appended once")
        #expect(busA.subscriberCount == 2 && busB.subscriberCount == 1, "the relays untapped")
    }
}

/// `ClusterEventLog` in memory, for the relay test: signals every listener on every append.
final class MemoryEventLog: ClusterEventLog, Sendable {
    private struct State {
        var records: [ClusterEventRecord] = []
        var listeners: [UUID: AsyncThrowingStream<ClusterEventSignal, any Error>.Continuation] = [:]
    }

    private let state = NIOLockedValueBox(State())

    var count: Int { state.withLockedValue { $0.records.count } }

    func appendClusterEvents(_ bodies: [Data], origin: UUID) async throws -> Int64 {
        let (last, listeners) = state.withLockedValue { state in
            for body in bodies { state.records.append(ClusterEventRecord(id: Int64(state.records.count + 1), origin: origin, body: body)) }
            return (Int64(state.records.count), Array(state.listeners.values))
        }
        for listener in listeners { listener.yield(.appended(origin: origin, lastID: last)) }
        return last
    }

    func clusterEvents(origin: UUID, after id: Int64, limit: Int) async throws -> [ClusterEventRecord] {
        state.withLockedValue { Array($0.records.filter { $0.origin == origin && $0.id > id }.prefix(limit)) }
    }

    func clusterEventHeads() async throws -> [UUID: Int64] {
        state.withLockedValue { state in
            Dictionary(state.records.map { ($0.origin, $0.id) }, uniquingKeysWith: max)
        }
    }

    func pruneClusterEvents(olderThan age: TimeInterval) async throws -> Int { 0 }

    func clusterEventSignals() -> AsyncThrowingStream<ClusterEventSignal, any Error> {
        let (stream, continuation) = AsyncThrowingStream<ClusterEventSignal, any Error>.makeStream()
        let id = UUID()
        state.withLockedValue { $0.listeners[id] = continuation }
        continuation.yield(.listening)
        continuation.onTermination = { [weak self] _ in self?.state.withLockedValue { _ = $0.listeners.removeValue(forKey: id) } }
        return stream
    }
}

struct ClusterTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Two `numbat serve` processes, A then B, on one fresh PostgreSQL database, sharing A's key
/// file; everything stopped and removed afterwards.
struct TwoServers: Sendable {
    let a: ServerProcess
    let b: ServerProcess
    let directories: [URL]
    let postgres: PostgresServer

    static func with(extraArguments: [String] = [], _ body: @Sendable (TwoServers) async throws -> Void) async throws {
        try await PostgresServer.with { postgres in
            try await postgres.createDatabase("numbat")
            let store = postgres.url(database: "numbat")
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-events-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: base) }
            let directories = ["a", "b"].map { base.appendingPathComponent($0) }
            func serve(_ index: Int) async throws -> ServerProcess {
                try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directories[index].path, "--store", store,
                                               "--node-name", "numbat\(["A", "B"][index])\(UInt32.random(in: 0...UInt32.max))",
                                               "--reconnect-initial", "0.2", "--reconnect-max", "1"] + extraArguments)
            }
            let a = try await serve(0)
            defer { a.kill() }
            try FileManager.default.createDirectory(at: directories[1], withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: directories[0].appendingPathComponent("secret.key"), to: directories[1].appendingPathComponent("secret.key"))
            let b = try await serve(1)
            defer { b.kill() }
            let cluster = TwoServers(a: a, b: b, directories: directories, postgres: postgres)
            do {
                try await body(cluster)
            } catch {
                print("server A:\n\(a.output.suffix(4000))\nserver B:\n\(b.output.suffix(4000))")
                throw error
            }
        }
    }

    /// A's first admin token (the servers share it through the database).
    func adminToken() throws -> String {
        try String(contentsOf: directories[0].appendingPathComponent("admin-token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `condition` holds within `timeout`, checked every 200 ms.
    static func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return try await condition()
    }

    struct Answer {
        var status: Int
        var data: Data
        var headers: [String: String] = [:]
        /// The server that ran a node's request (`Numbat-Answered-By`).
        var answeredBy: UUID? {
            headers.first { $0.key.lowercased() == NodeRequestRouting.answeredHeader.lowercased() }.flatMap { UUID(uuidString: $0.value) }
        }
        var text: String { String(decoding: data, as: UTF8.self) }
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] }
    }

    func request(_ server: ServerProcess, _ method: String, _ path: String, body: [String: Any]? = nil, token: String? = nil,
                 headers: [String: String] = [:]) async throws -> Answer {
        var request = URLRequest(url: URL(string: server.url + path)!)
        request.httpMethod = method
        request.timeoutInterval = 120
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http?.allHeaderFields ?? [:] {
            if let key = key as? String, let value = value as? String { headers[key] = value }
        }
        return Answer(status: http?.statusCode ?? 0, data: data, headers: headers)
    }

    func post(_ server: ServerProcess, _ path: String, _ body: [String: Any], token: String? = nil, headers: [String: String] = [:]) async throws -> Answer {
        try await request(server, "POST", path, body: body, token: token, headers: headers)
    }

    func get<T: Decodable>(_ type: T.Type, _ server: ServerProcess, _ path: String, token: String? = nil) async throws -> T {
        let answer = try await request(server, "GET", path, token: token)
        do {
            return try JSONDecoder().decode(T.self, from: answer.data)
        } catch {
            throw ClusterTestFailure("GET \(path): \(answer.status) \(answer.text)")
        }
    }

    func addNode(_ peer: TestNode, through server: ServerProcess, token: String? = nil) async throws -> UUID {
        let added = try await post(server, "/api/actions/add-node", ["node": peer.name.description, "cookie": peer.cookie], token: token)
        guard added.status == 201, let node = added.json?["node"] as? [String: Any], let text = node["id"] as? String, let id = UUID(uuidString: text) else {
            throw ClusterTestFailure("adding \(peer.name): \(added.status) \(added.text)")
        }
        return id
    }

    struct Cluster: Decodable {
        struct Entry: Decodable {
            struct Server: Decodable {
                var id: UUID
                var node_name: String
                var api_url: String?
            }
            var server: Server
            var alive: Bool
            var nodes: [UUID]
        }
        var me: UUID?
        var servers: [Entry]
        var unleased_nodes: [UUID]
    }

    func serverID(of server: ServerProcess, token: String? = nil) async throws -> UUID {
        try #require(try await get(Cluster.self, server, "/api/cluster", token: token).me)
    }

    func serverNodeName(_ id: UUID, token: String? = nil) async throws -> String {
        let cluster = try await get(Cluster.self, a, "/api/cluster", token: token)
        return try #require(cluster.servers.first { $0.server.id == id }?.server.node_name)
    }

    /// The nodes each server holds once both are alive, know each other's API address and
    /// every node is leased to the server rendezvous hashing names (up to 120 s).
    func settledLeases(nodes count: Int, token: String? = nil) async throws -> [UUID: [UUID]] {
        var leases: [UUID: [UUID]] = [:]
        let settled = try await Self.eventually(within: .seconds(120)) {
            let cluster = try await get(Cluster.self, a, "/api/cluster", token: token)
            let live = cluster.servers.filter(\.alive)
            guard live.count == 2, live.allSatisfy({ $0.server.api_url != nil }) else { return false }
            let held = live.flatMap(\.nodes)
            guard held.count == count, Set(held).count == count, cluster.unleased_nodes.isEmpty else { return false }
            let ids = live.map(\.server.id)
            guard live.allSatisfy({ entry in entry.nodes.allSatisfy { LeasePlanner.owner(of: $0, among: ids) == entry.server.id } }) else { return false }
            leases = Dictionary(uniqueKeysWithValues: live.map { ($0.server.id, $0.nodes) })
            return true
        }
        guard settled else { throw ClusterTestFailure("the servers did not settle on one holder per node") }
        return leases
    }
}

/// A WebSocket client over a plain socket (RFC 6455, client side): the handshake, masked text
/// frames out, frames in (fragmented messages joined, pings answered) on a thread of its own.
/// Every text message is kept, parsed as JSON, in arrival order.
final class TestWebSocket: @unchecked Sendable {
    private let socket: Int32
    private let lock = NSLock()
    private var received: [[String: Any]] = []
    /// When each of `received` arrived, for latencies measured at the client.
    private var arrivals: [ContinuousClock.Instant] = []
    private var closed = false

    private init(socket: Int32) {
        self.socket = socket
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Connects to `base` (`http://127.0.0.1:PORT`) and upgrades `path`; throws with the
    /// server's answer when it does not upgrade.
    static func connect(_ base: String, path: String, headers: [String: String] = [:]) async throws -> TestWebSocket {
        let url = try #require(URL(string: base))
        let host = url.host ?? "127.0.0.1"
        let port = try #require(url.port)
        return try await offPool {
            let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard socket >= 0 else { throw Failure(description: "socket: \(errno)") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr(host)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                Foundation.close(socket)
                throw Failure(description: "connect \(base): \(String(cString: strerror(errno)))")
            }
            let client = TestWebSocket(socket: socket)
            do {
                try client.handshake(host: "\(host):\(port)", path: path, headers: headers)
            } catch {
                Foundation.close(socket)
                throw error
            }
            let reader = Thread { client.readFrames() }
            reader.stackSize = 1 << 20
            reader.start()
            return client
        }
    }

    private func handshake(host: String, path: String, headers: [String: String]) throws {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        try write(Array((request + "\r\n").utf8))
        // The answer's head, byte by byte: nothing of the first frame is read with it.
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            head.append(try read(1)[0])
            if head.count > 64 << 10 { throw Failure(description: "an endless HTTP head") }
        }
        let text = String(decoding: head, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 101") else {
            var body: [UInt8] = []
            while let byte = try? read(1) { body += byte }
            throw Failure(description: "no upgrade: \(text)\(String(decoding: body, as: UTF8.self))")
        }
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { Foundation.recv(socket, $0.baseAddress! + done, count - done, 0) }
            guard got > 0 else { throw Failure(description: "closed") }
            done += got
        }
        return bytes
    }

    private func write(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let sent = bytes.withUnsafeBytes { Foundation.send(socket, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            done += sent
        }
    }

    /// One frame out, masked as a client's must be.
    private func send(opcode: UInt8, _ payload: [UInt8]) throws {
        var frame: [UInt8] = [0x80 | opcode]
        switch payload.count {
        case 0..<126: frame.append(0x80 | UInt8(payload.count))
        case 126..<65536: frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        default: frame += [0x80 | 127] + (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xff) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        lock.lock()
        defer { lock.unlock() }
        try write(frame)
    }

    func send(_ text: String) throws {
        try send(opcode: 1, Array(text.utf8))
    }

    /// Reads until the connection ends, then closes the socket (only this thread reads it, so
    /// its descriptor cannot be reused under a read).
    private func readFrames() {
        defer { Foundation.close(socket) }
        var message: [UInt8] = []
        while let header = try? read(2) {
            let fin = header[0] & 0x80 != 0
            let opcode = header[0] & 0x0f
            var length = Int(header[1] & 0x7f)
            if length == 126, let bytes = try? read(2) { length = Int(bytes[0]) << 8 | Int(bytes[1]) }
            else if length == 127, let bytes = try? read(8) { length = bytes.reduce(0) { $0 << 8 | Int($1) } }
            let mask = header[1] & 0x80 != 0 ? (try? read(4)) : nil
            guard var payload = length == 0 ? [] : try? read(length) else { break }
            if let mask { payload = payload.enumerated().map { $0.element ^ mask[$0.offset % 4] } }
            switch opcode {
            case 0, 1, 2:
                message += payload
                guard fin else { continue }
                if let object = (try? JSONSerialization.jsonObject(with: Data(message))) as? [String: Any] {
                    let now = ContinuousClock.now
                    lock.lock()
                    received.append(object)
                    arrivals.append(now)
                    lock.unlock()
                }
                message = []
            case 8:
                close()
            case 9:
                try? send(opcode: 10, payload)
            default:
                continue
            }
        }
    }

    /// Every message so far, in arrival order.
    var messages: [[String: Any]] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Every message so far with its arrival time, from index `start` on.
    func timedMessages(from start: Int = 0) -> [(at: ContinuousClock.Instant, message: [String: Any])] {
        lock.lock()
        defer { lock.unlock() }
        guard start < received.count else { return [] }
        return (start..<received.count).map { (arrivals[$0], received[$0]) }
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return received.count
    }

    /// The messages' types, for failure messages.
    var types: [String] { messages.map { "\($0["type"] as? String ?? "?")\(($0["server"] as? String).map { "@" + $0.prefix(8) } ?? "")" } }

    /// Whether `condition` holds of the messages within `timeout`, checked as they come.
    func waitFor(within timeout: Duration, _ condition: ([[String: Any]]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(messages) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition(messages)
    }

    /// Ends the connection; the reader thread closes the socket.
    func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        shutdown(socket, Int32(SHUT_RDWR))
    }
}
