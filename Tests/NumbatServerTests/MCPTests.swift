import Foundation
import HummingbirdTesting
import MCP
import NumbatAPI
import NumbatTestSupport
import Testing

/// The MCP endpoint (`POST /mcp`) driven by the MCP SDK's own client over its Streamable HTTP
/// transport, against a live server managing a real OTP 25 node: each read-only tool answers
/// what the REST API answers, rpc is audited and admin only, and tokens are checked as the REST
/// API checks them.
@Suite("MCP: an assistant's window")
struct MCPTests {
    /// A REST answer decoded as its NumbatAPI type.
    static func rest<T: Decodable>(_ path: String, as type: T.Type, server: TestServer, client: any TestClientProtocol) async throws -> T {
        let answer = try await client.call(.get, path, token: server.adminToken)
        #expect(answer.status == .ok, "\(path): \(answer.text)")
        return try APICoding.decoder().decode(T.self, from: Data(answer.text.utf8))
    }

    /// Waits until the tool and the route agree (a collection may land between the two calls).
    static func agree<T: Decodable & Equatable & Sendable>(_ tool: String, _ arguments: [String: Value], _ path: String, as type: T.Type,
                                                           mcp: MCPTestClient, server: TestServer, client: any TestClientProtocol,
                                                           ignoring volatile: (inout T) -> Void = { _ in },
                                                           until ready: (T) -> Bool = { _ in true }) async throws -> T {
        var last: (T, T)?
        let agreed = try await eventually(within: .seconds(60)) {
            var viaMCP = try await mcp.decode(tool, arguments, as: T.self)
            var viaREST = try await rest(path, as: T.self, server: server, client: client)
            volatile(&viaMCP)
            volatile(&viaREST)
            last = (viaMCP, viaREST)
            return viaMCP == viaREST && ready(viaMCP)
        }
        #expect(agreed, "\(tool) and GET \(path) disagree: \(String(describing: last))")
        return try #require(last?.0)
    }

    @Test("every read-only tool answers as the REST API does; rpc is audited; a viewer cannot reach rpc")
    func tools() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with(.live, metricsInterval: 1) { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let port = try #require(client.port)
                let admin = try await MCPTestClient.connect(port: port, token: server.adminToken)
                defer { Task { await admin.disconnect() } }

                let names = try await admin.client.listTools().tools.map(\.name)
                #expect(Set(names) == ["nodes", "alarms", "notifications", "metric_history", "top_processes", "process_info", "rpc"], "\(names)")

                // rpc, audited as the REST route's calls are, under the token's name.
                let called = try await admin.decode("rpc", ["node": .string(id), "module": "lists", "function": "reverse", "args": [[1, 2, 3]]],
                                                    as: RPCResponse.self)
                #expect(called.erlang == "[3,2,1]", "\(called)")
                let audit = try await Self.rest("/api/audit?node=\(id)", as: AuditPageResponse.self, server: server, client: client)
                #expect(audit.entries.first?.id == called.auditID && audit.entries.first?.actor == "admin"
                        && audit.entries.first?.command == "lists:reverse([1,2,3])", "\(audit)")

                // Something for each tool to find, made through the rpc tool: an alarm, a log
                // error, a process with a queue.
                let eval = { (text: String) async throws -> RPCResponse in
                    try await admin.decode("rpc", ["node": .string(id), "module": "numbat_test_peer", "function": "eval", "args": [.string(text)]], as: RPCResponse.self)
                }
                _ = try await eval(#"{ok, _} = application:ensure_all_started(sasl), alarm_handler:set_alarm({numbat_mcp, "set through MCP"}), ok."#)
                _ = try await eval("P = spawn(fun() -> receive stop -> ok end end), register(numbat_mcp_busy, P), [P ! {m, N} || N <- lists:seq(1, 5000)], ok.")

                let nodes = try await Self.agree("nodes", [:], "/api/topo/nodes", as: NodeListResponse.self, mcp: admin, server: server, client: client)
                #expect(nodes.nodes.map(\.id.uuidString).map { $0.lowercased() } == [id.lowercased()])
                _ = try await Self.agree("nodes", ["state": "UP"], "/api/topo/nodes?state=UP", as: NodeListResponse.self, mcp: admin, server: server, client: client)

                let alarms = try await Self.agree("alarms", ["node": .string(id), "state": "active"], "/api/alarms?node=\(id)&state=active",
                                                  as: AlarmPageResponse.self, mcp: admin, server: server, client: client,
                                                  until: { page in page.alarms.contains { $0.key.contains("numbat_mcp") } })
                #expect(!alarms.alarms.isEmpty)

                // Logged again until it is heard: the node's log handler may not be in place yet.
                let heard = try await eventually(within: .seconds(60)) {
                    _ = try await eval(#"logger:error("numbat mcp ~p", [42]), ok."#)
                    return try await !Self.rest("/api/notifications?node=\(id)&q=numbat%20mcp", as: NotificationPageResponse.self,
                                                server: server, client: client).notifications.isEmpty
                }
                #expect(heard, "the node's logger:error never became a notification")
                let notifications = try await Self.agree("notifications", ["node": .string(id), "q": "numbat mcp"], "/api/notifications?node=\(id)&q=numbat%20mcp",
                                                         as: NotificationPageResponse.self, mcp: admin, server: server, client: client)
                #expect(notifications.notifications.first?.message.contains("numbat mcp 42") == true, "\(notifications)")

                // A closed range in the past, once it holds points, so both answers cover the same.
                let collected = try await eventually(within: .seconds(60)) {
                    try await Self.rest("/api/metrics/nodes/\(id)/series?metrics=memory_total&from=10m", as: MetricSeriesResponse.self,
                                        server: server, client: client).series.first?.points.count ?? 0 >= 2
                }
                #expect(collected, "no metric history was stored")
                let to = Int(Date().timeIntervalSince1970) - 1
                let series = try await Self.agree("metric_history", ["node": .string(id), "metrics": "memory_total", "from": .string(String(to - 600)), "to": .string(String(to))],
                                                  "/api/metrics/nodes/\(id)/series?metrics=memory_total&from=\(to - 600)&to=\(to)",
                                                  as: MetricSeriesResponse.self, mcp: admin, server: server, client: client,
                                                  until: { $0.series.first?.points.isEmpty == false })
                #expect(series.series.first?.metric == "memory_total")

                let top = try await Self.agree("top_processes", ["node": .string(id), "sort": "message_queue_len", "limit": 1],
                                               "/api/nodes/\(id)/processes?sort=message_queue_len&limit=1",
                                               as: ProcessListResponse.self, mcp: admin, server: server, client: client,
                                               // Each look at a process costs it a reduction or so.
                                               ignoring: { page in page.processes = page.processes.map { var process = $0; process.reductions = nil; return process } })
                let busy = try #require(top.processes.first)
                #expect(busy.registeredName == "numbat_mcp_busy" && busy.messageQueueLen == 5000, "\(top)")
                let info = try await Self.agree("process_info", ["node": .string(id), "pid": .string(busy.pid)],
                                                "/api/nodes/\(id)/processes/\(busy.pid.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? busy.pid)",
                                                as: ProcessInfoResponse.self, mcp: admin, server: server, client: client,
                                                ignoring: { $0.process["reductions"] = nil })
                #expect(info.process["registered_name"] == .string("numbat_mcp_busy"), "\(info)")

                // Bad arguments get the REST API's errors, as the tool's answer.
                let unknown = try await admin.call("process_info", ["node": .string(UUID().uuidString), "pid": "<0.1.0>"])
                #expect(unknown.isError && unknown.text.hasPrefix("node_not_found:"), "\(unknown)")
                let typo = try await admin.call("alarms", ["stat": "active"])
                #expect(typo.isError && typo.text.hasPrefix("unknown_argument:"), "\(typo)")
                let badPid = try await admin.call("process_info", ["node": .string(id), "pid": "nonsense"])
                #expect(badPid.isError && badPid.text.hasPrefix("invalid_pid:"), "\(badPid)")

                // A viewer reads everything but cannot reach rpc: not listed, and refused by name.
                let created = try await client.call(.post, "/api/tokens", body: json(["name": "assistant", "role": "viewer"]), token: server.adminToken)
                let viewerToken = try #require(created["secret"] as? String)
                let viewer = try await MCPTestClient.connect(port: port, token: viewerToken)
                defer { Task { await viewer.disconnect() } }
                #expect(try await viewer.client.listTools().tools.map(\.name).contains("rpc") == false)
                _ = try await viewer.decode("nodes", [:], as: NodeListResponse.self)
                let refused = try await viewer.call("rpc", ["node": .string(id), "module": "erlang", "function": "halt"])
                #expect(refused.isError && refused.text == "forbidden: the rpc tool needs an admin token", "\(refused)")
                let after = try await Self.rest("/api/audit?node=\(id)", as: AuditPageResponse.self, server: server, client: client)
                #expect(!after.entries.contains { $0.actor == "assistant" }, "the viewer's call never reached the node")
            }
        }
    }

    @Test("tokens as for the REST API: none is refused where one is required, a wrong one always; loopback without a token on a loopback-only server")
    func authentication() async throws {
        try await TestServer.with(.live, configure: { $0.requireToken = true }) { server, client in
            let port = try #require(client.port)
            for token in [nil, "nbt_wrong"] as [String?] {
                await #expect(throws: (any Error).self, "token \(token ?? "none")") { _ = try await MCPTestClient.connect(port: port, token: token) }
            }
            let plain = try await client.call(.post, "/mcp", body: json(["jsonrpc": "2.0", "id": 1, "method": "tools/list"]), token: nil)
            #expect(plain.status == .unauthorized && plain.errorCode == "token_required", "\(plain.text)")
            // Stateless: no event stream to open.
            let stream = try await client.call(.get, "/mcp", token: server.adminToken)
            #expect(stream.status == .methodNotAllowed, "\(stream.text)")
            let admin = try await MCPTestClient.connect(port: port, token: server.adminToken)
            #expect(try await admin.client.listTools().tools.map(\.name).contains("rpc"))
            await admin.disconnect()
        }
        try await TestServer.with(.live) { _, client in
            let loopback = try await MCPTestClient.connect(port: try #require(client.port), token: nil)
            // A loopback caller of a loopback-only server is an admin, as on the REST API.
            #expect(try await loopback.client.listTools().tools.map(\.name).contains("rpc"))
            await loopback.disconnect()
        }
    }
}
