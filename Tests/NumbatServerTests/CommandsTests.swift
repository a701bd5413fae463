import ErlangTerm
import Foundation
import HummingbirdTesting
import NumbatTestSupport
import Testing

/// Remote commands on real nodes: the JSON and Erlang-syntax arguments, results of every kind
/// of term, errors and timeouts, admin-only access, the audit log, and the explorers.
@Suite("remote commands with real nodes")
struct CommandsTests {
    static func rpc(_ id: String, _ body: [String: Any], server: TestServer, client: any TestClientProtocol, token: String? = nil) async throws -> JSONResponse {
        try await client.call(.post, "/api/nodes/\(id)/rpc", body: json(body), token: token ?? server.adminToken)
    }

    @Test("rpc: JSON and Erlang-syntax arguments; pids, refs, funs, non-UTF-8 binaries, deep nesting and huge integers come back readable", arguments: OTPRelease.installed)
    func calls(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            try await TestServer.with { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let reversed = try await Self.rpc(id, ["module": "lists", "function": "reverse", "args": [[1, 2.5, "text", ["atom": "ok"]]]], server: server, client: client)
                #expect(reversed["erlang"] as? String == #"[ok,<<"text">>,2.5,1]"#, "\(reversed.text)")
                #expect((reversed["result"] as? [Any])?.count == 4)
                // A number written with a fraction or exponent is a float, whole or not; without one, an integer.
                let floats = try await client.call(.post, "/api/nodes/\(id)/rpc", body: #"{"module": "erlang", "function": "list_to_tuple", "args": [[2.0, 1e2, 2, 2.5]]}"#, token: server.adminToken)
                #expect(floats["erlang"] as? String == "{2.0,100.0,2,2.5}", "\(floats.text)")
                let tuple = try await Self.rpc(id, ["module": "erlang", "function": "list_to_tuple", "args_erlang": #"[[a, <<"x">>, "chars", 1267650600228229401496703205376]]"#], server: server, client: client)
                #expect(tuple["erlang"] as? String == #"{a,<<"x">>,"chars",1267650600228229401496703205376}"#, "\(tuple.text)")
                let elements = (tuple["result"] as? [String: Any])?["tuple"] as? [Any] ?? []
                #expect((elements.first as? [String: String]) == ["atom": "a"] && elements[1] as? String == "x")
                #expect((elements[2] as? [String: String]) == ["charlist": "chars"] && (elements[3] as? [String: String]) == ["integer": "1267650600228229401496703205376"])

                let exotic = try await Self.rpc(id, ["module": "numbat_test_peer", "function": "eval", "args": [
                    "{self(), make_ref(), fun() -> ok end, <<255, 0>>, lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 200)), #{k => v}}."]],
                                                server: server, client: client)
                #expect(exotic.status == .ok, "\(exotic.text)")
                let parts = (exotic["result"] as? [String: Any])?["tuple"] as? [Any] ?? []
                #expect((parts.first as? [String: String])?["pid"]?.hasPrefix("#Pid<") == true, "\(exotic.text.prefix(300))")
                #expect((parts[1] as? [String: String])?["ref"]?.hasPrefix("#Ref<") == true)
                #expect((parts[2] as? [String: String])?["fun"]?.hasPrefix("#Fun<") == true)
                #expect((parts[3] as? [String: String]) == ["binary_base64": "/wA="])
                #expect((exotic["erlang"] as? String)?.contains("<<255,0>>") == true)

                let failed = try await Self.rpc(id, ["module": "erlang", "function": "binary_to_atom", "args": [1]], server: server, client: client)
                #expect(failed.status == .unprocessableContent && failed.errorCode == "rpc_failed" && failed.errorMessage?.contains("badarg") == true, "\(failed.text)")
                let slow = try await Self.rpc(id, ["module": "timer", "function": "sleep", "args": [3000], "timeout_ms": 200], server: server, client: client)
                #expect(slow.status == .gatewayTimeout && slow.errorCode == "rpc_timeout", "\(slow.text)")

                // Every call is in the audit log, newest first, with who and how it ended.
                let audit = try await client.call(.get, "/api/audit?node=\(id)", token: server.adminToken)["entries"] as? [[String: Any]] ?? []
                #expect(audit.map { $0["outcome"] as? String ?? "" } == ["timeout", "error", "ok", "ok", "ok", "ok"], "\(audit)")
                #expect(audit.last?["command"] as? String == #"lists:reverse([1,2.5,<<"text">>,ok])"# && audit.last?["actor"] as? String == "admin")
            }
        }
    }

    @Test("rpc is admin only and refuses bad requests with clear errors")
    func refusals() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let viewer = try #require(try await client.call(.post, "/api/tokens", body: json(["name": "dash", "role": "viewer"]), token: server.adminToken)["secret"] as? String)
                #expect(try await Self.rpc(id, ["module": "erlang", "function": "node"], server: server, client: client, token: viewer).status == .forbidden)
                let cases: [([String: Any], String)] = [
                    (["module": "lists", "function": "reverse", "args": [[1]], "args_erlang": "[[1]]"], "invalid_arguments"),
                    (["module": "lists", "function": "reverse", "args_erlang": "[[1,"], "invalid_arguments"),
                    (["module": "lists", "function": "reverse", "args_erlang": "{not, a, list}"], "invalid_arguments"),
                    (["module": "lists", "function": "reverse", "argz": []], "unknown_field"),
                    (["module": "", "function": "reverse"], "invalid_function"),
                    (["module": "lists", "function": "reverse", "timeout_ms": 0], "invalid_timeout"),
                ]
                for (body, code) in cases {
                    let refused = try await Self.rpc(id, body, server: server, client: client)
                    #expect(refused.status == .badRequest && refused.errorCode == code, "\(body): \(refused.text)")
                }
                #expect(try await Self.rpc(UUID().uuidString, ["module": "erlang", "function": "node"], server: server, client: client).status == .notFound)
                let audit = try await client.call(.get, "/api/audit", token: server.adminToken)["entries"] as? [Any] ?? []
                #expect(audit.isEmpty, "refused requests never reached a node")
            }
        }
    }

    @Test("explorers: top processes by queue length name the busy one; its info; the largest ETS tables", arguments: OTPRelease.installed)
    func explorers(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            try await TestServer.with { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                _ = try await NotificationsTests.eval(peer, """
                    Parent = self(),
                    P = spawn(fun() -> ets:new(numbat_table, [named_table]), [ets:insert(numbat_table, {N, <<0:8000>>}) || N <- lists:seq(1, 2000)], Parent ! filled, receive stop -> ok end end),
                    receive filled -> ok end,
                    register(numbat_busy, P), [P ! {m, N} || N <- lists:seq(1, 5000)], ok.
                    """)
                var top: [[String: Any]] = []
                let ready = try await eventually(within: .seconds(60)) {
                    let answer = try await client.call(.get, "/api/nodes/\(id)/processes?sort=message_queue_len&limit=5", token: server.adminToken)
                    top = answer["processes"] as? [[String: Any]] ?? []
                    return !top.isEmpty
                }
                #expect(ready)
                #expect(top.first?["registered_name"] as? String == "numbat_busy" && top.first?["message_queue_len"] as? Int == 5000, "\(top.first ?? [:])")
                #expect(top.count == 5)
                let pid = try #require(top.first?["pid"] as? String)
                let encoded = pid.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? pid
                let info = try await client.call(.get, "/api/nodes/\(id)/processes/\(encoded)", token: server.adminToken)
                let process = info["process"] as? [String: Any] ?? [:]
                #expect(process["registered_name"] as? String == "numbat_busy" && process["message_queue_len"] as? Int == 5000, "\(info.text)")
                #expect(process["initial_call"] is String && process["current_stacktrace"] is [String])
                #expect(process["messages"] == nil, "message contents are never shown")
                let gone = try await client.call(.get, "/api/nodes/\(id)/processes/0.32000.0", token: server.adminToken)
                #expect(gone.status == .notFound, "\(gone.text)")
                #expect(try await client.call(.get, "/api/nodes/\(id)/processes/nonsense", token: server.adminToken).status == .badRequest)

                let ets = try await client.call(.get, "/api/nodes/\(id)/ets?limit=3", token: server.adminToken)
                let tables = ets["tables"] as? [[String: Any]] ?? []
                #expect(tables.first?["name"] as? String == "numbat_table" && tables.first?["size"] as? Int == 2000, "\(ets.text)")
                #expect(try await client.call(.get, "/api/nodes/\(id)/processes?sort=colour", token: server.adminToken).status == .badRequest)
            }
        }
    }
}
