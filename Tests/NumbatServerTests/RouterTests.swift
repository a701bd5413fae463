import Foundation
import Hummingbird
import HummingbirdTesting
import NumbatCore
import NumbatServer
import Testing

/// Every endpoint through the router (no socket): authentication, validation and error documents.
@Suite("REST routes: auth, validation, errors")
struct RouterTests {
    @Test("health and the OpenAPI document are public; everything else needs a token")
    func publicAndPrivate() async throws {
        try await TestServer.with { server, client in
            #expect(try await client.call(.get, "/api/health", token: nil).status == .ok)
            #expect(try await client.call(.get, "/api/openapi.json", token: nil).status == .ok)
            let anonymous = try await client.call(.get, "/api/topo/nodes", token: nil)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.errorCode == "token_required")
            let forged = try await client.call(.get, "/api/topo/nodes", token: "nbt_forged")
            #expect(forged.status == .unauthorized)
            #expect(forged.errorCode == "invalid_token")
            #expect(try await client.call(.get, "/api/topo/nodes", token: server.adminToken).status == .ok)
        }
    }

    @Test("tokens: admins create, list and revoke; the secret is shown once and stored hashed; viewers only read")
    func tokens() async throws {
        try await TestServer.with { server, client in
            let created = try await client.call(.post, "/api/tokens", body: json(["name": "grafana", "role": "viewer"]), token: server.adminToken)
            #expect(created.status == .created)
            let secret = try #require(created["secret"] as? String)
            #expect(secret.hasPrefix("nbt_"))
            let id = try #require((created["token"] as? [String: Any])?["id"] as? String)

            let listed = try await client.call(.get, "/api/tokens", token: server.adminToken)
            #expect(listed.text.contains("grafana"))
            #expect(!listed.text.contains(secret), "the list never shows secrets")
            // The database holds only hashes.
            let database = try Data(contentsOf: server.directory.appendingPathComponent("numbat.sqlite"))
            #expect(database.range(of: Data(secret.utf8)) == nil)
            #expect(database.range(of: Data(server.adminToken.utf8)) == nil)

            // A viewer reads but does not write, and cannot manage tokens.
            #expect(try await client.call(.get, "/api/topo/nodes", token: secret).status == .ok)
            let write = try await client.call(.post, "/api/topo/node_families", body: json(["name": "x"]), token: secret)
            #expect(write.status == .forbidden)
            #expect(try await client.call(.get, "/api/tokens", token: secret).status == .forbidden)

            #expect(try await client.call(.delete, "/api/tokens/\(id)", token: server.adminToken).status == .noContent)
            #expect(try await client.call(.get, "/api/topo/nodes", token: secret).errorCode == "invalid_token")
            #expect(try await client.call(.delete, "/api/tokens/\(id)", token: server.adminToken).status == .notFound)
            let nameless = try await client.call(.post, "/api/tokens", body: json(["name": " "]), token: server.adminToken)
            #expect(nameless.status == .badRequest)
            let badRole = try await client.call(.post, "/api/tokens", body: json(["name": "x", "role": "root"]), token: server.adminToken)
            #expect(badRole.status == .badRequest)
        }
    }

    @Test("add-node refuses bad bodies with 4xx, a clear message and nothing stored",
          arguments: [
            (#"{"node": "a@127.0.0.1", "cookie": "#, "invalid_json"),
            (#"["a@127.0.0.1"]"#, "invalid_json"),
            ("", "invalid_json"),
            (#"{"node": "a@127.0.0.1", "cookie": "c", "discovr": true}"#, "unknown_field"),
            (#"{"node": "a@127.0.0.1"}"#, "invalid_field"),
            (#"{"node": 42, "cookie": "c"}"#, "invalid_field"),
            (#"{"node": "a@127.0.0.1", "cookie": "c", "discover": "yes"}"#, "invalid_field"),
            (#"{"node": "no-at-sign", "cookie": "c"}"#, "invalid_node_name"),
            (#"{"node": "bad name@127.0.0.1", "cookie": "c"}"#, "invalid_node_name"),
            (#"{"node": "a@127.0.0.1", "cookie": ""}"#, "invalid_cookie"),
            (#"{"node": "nobody-here@127.0.0.1", "cookie": "c"}"#, "node_unreachable"),
          ])
    func addNodeValidation(body: String, code: String) async throws {
        try await TestServer.with { server, client in
            let answer = try await client.call(.post, "/api/actions/add-node", body: body, token: server.adminToken)
            #expect(answer.errorCode == code, "\(answer.text)")
            #expect((400..<500).contains(answer.status.code))
            #expect((answer.errorMessage ?? "").count > 10)
            let nodes = try await client.call(.get, "/api/topo/nodes", token: server.adminToken)
            #expect((nodes["nodes"] as? [Any])?.isEmpty == true)
            #expect((try await client.call(.get, "/api/topo/node_families", token: server.adminToken)["families"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("nodes: bad and unknown ids")
    func nodeIDs() async throws {
        try await TestServer.with { server, client in
            #expect(try await client.call(.get, "/api/topo/nodes/not-a-uuid", token: server.adminToken).status == .badRequest)
            let unknown = UUID().uuidString
            let missing = try await client.call(.get, "/api/topo/nodes/\(unknown)", token: server.adminToken)
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "node_not_found")
            #expect(try await client.call(.delete, "/api/topo/nodes/\(unknown)", token: server.adminToken).errorCode == "node_not_found")
            #expect(try await client.call(.get, "/api/topo/nodes?state=SLEEPY", token: server.adminToken).errorCode == "invalid_query")
            #expect(try await client.call(.get, "/api/topo/nodes?state=up", token: server.adminToken).status == .ok)
            let nowhere = try await client.call(.get, "/api/no/such/route", token: server.adminToken)
            #expect(nowhere.status == .notFound)
            #expect(nowhere.errorCode == "not_found")
        }
    }

    @Test("node families in the shape of seed listing 9")
    func families() async throws {
        try await TestServer.with { server, client in
            let body = #"{"name": "Riak Cluster", "bootstrap_node_selection": "random", "bootstrap_strategy": "custom", "bootstrap_strategy_opts": [{"cmd": "bin/bootstrap"}]}"#
            let created = try await client.call(.post, "/api/topo/node_families", body: body, token: server.adminToken)
            #expect(created.status == .created)
            let id = try #require(created["id"] as? String)
            #expect(created["name"] as? String == "Riak Cluster")
            #expect(created["node_selection"] as? String == "random")
            #expect(created["bootstrap_strategy"] as? String == "custom")
            #expect(created["bootstrap_strategy_opts"] as? [String: String] == ["cmd": "bin/bootstrap"])
            for key in ["description", "neighbors", "nodes", "plugins_opts", "deleted", "kind"] { #expect(created[key] != nil, "\(key)") }

            let fetched = try await client.call(.get, "/api/topo/node_families/\(id)", token: server.adminToken)
            #expect(fetched["name"] as? String == "Riak Cluster")
            let listed = try await client.call(.get, "/api/topo/node_families", token: server.adminToken)
            #expect((listed["families"] as? [[String: Any]])?.count == 1)

            for (bad, why) in [(#"{"name": ""}"#, "invalid_family"),
                               (#"{"name": "x", "bootstrap_strategy": "magic"}"#, "invalid_family"),
                               (#"{"name": "x", "bootstrap_strategy": "custom"}"#, "invalid_family"),
                               (#"{"name": "x", "bootstrap_node_selection": "first"}"#, "invalid_family"),
                               (#"{"name": "x", "colour": "red"}"#, "unknown_field")]
            {
                let answer = try await client.call(.post, "/api/topo/node_families", body: bad, token: server.adminToken)
                #expect(answer.status == .badRequest && answer.errorCode == why, "\(bad): \(answer.text)")
            }
            #expect(try await client.call(.delete, "/api/topo/node_families/\(id)", token: server.adminToken).status == .noContent)
            #expect(try await client.call(.get, "/api/topo/node_families/\(id)", token: server.adminToken).status == .notFound)
        }
    }
}
