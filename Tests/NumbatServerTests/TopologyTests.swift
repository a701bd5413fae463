import ErlangDist
import ErlangTerm
import Foundation
import HummingbirdTesting
import NumbatTestSupport
import Testing

/// Topology and the node manager against real OTP nodes.
@Suite("topology with real nodes")
struct TopologyTests {
    @Test("adding a running node: UP in the answer, filed by boot script, its cookie never shown nor stored in clear", arguments: OTPRelease.installed)
    func addNode(release: OTPRelease) async throws {
        try await TestNode.with(release: release, cookie: "a-secret-cookie-\(release.rawValue)") { peer in
            try await TestServer.with { server, client in
                // How fast it is UP is a figure of `numbat-bench --only timings`, not a bound here.
                let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: server.adminToken)
                #expect(added.status == .created, "\(added.text)")
                let node = try #require(added["node"] as? [String: Any])
                #expect(node["state"] as? String == "UP")
                #expect(node["otp_release"] as? String == release.rawValue)
                #expect(node["boot_script"] as? String == "Erlang/OTP \(release.rawValue)")
                #expect(node["family_id"] is String)
                let id = try #require(node["id"] as? String)

                let shown = try await client.call(.get, "/api/topo/nodes/\(id)", token: server.adminToken)
                #expect(shown["name"] as? String == peer.name.description)
                let families = try await client.call(.get, "/api/topo/node_families", token: server.adminToken)
                let family = try #require((families["families"] as? [[String: Any]])?.first)
                #expect(family["kind"] as? String == "automatic")
                #expect(family["nodes"] as? [String] == [id])
                // The cookie appears in no answer and is stored sealed.
                for text in [added.text, shown.text, families.text, try await client.call(.get, "/api/topo/nodes", token: server.adminToken).text] {
                    #expect(!text.contains(peer.cookie))
                }
                let database = try Data(contentsOf: server.directory.appendingPathComponent("numbat.sqlite"))
                #expect(database.range(of: Data(peer.cookie.utf8)) == nil)
                // Adding it again is a conflict.
                let again = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: server.adminToken)
                #expect(again.status == .conflict)
            }
        }
    }

    @Test("a wrong cookie is refused with 422 and nothing is stored", arguments: OTPRelease.installed)
    func wrongCookie(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            try await TestServer.with { server, client in
                let answer = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": "wrong"]), token: server.adminToken)
                #expect(answer.status == .unprocessableContent)
                #expect(answer.errorCode == "cookie_rejected")
                #expect(answer.errorMessage?.contains("cookie") == true)
                #expect((try await client.call(.get, "/api/topo/nodes", token: server.adminToken)["nodes"] as? [Any])?.isEmpty == true)
                #expect(server.server.nodes.local.connectedNodes.isEmpty)
            }
        }
    }

    @Test("discovery adds a 3-node cluster from one node and skips a connected node with another cookie", arguments: OTPRelease.installed)
    func discovery(release: OTPRelease) async throws {
        // A cluster that is not fully meshed (the stranger meets only the first node): OTP's
        // `global` would otherwise cut connections to restore a full mesh, at random.
        let partialMesh = ["-kernel", "prevent_overlapping_partitions", "false"]
        try await TestNode.withNodes(3, release: release, extraArgs: partialMesh) { cluster in
            try await TestNode.with(release: release, cookie: "other-cookie", extraArgs: partialMesh) { stranger in
                let observer = try Observer(cookie: cluster[0].cookie)
                try await observer.connect(cluster[0], to: [cluster[1]])
                try await observer.connect(cluster[1], to: [cluster[2]])
                // The first node reaches the stranger with the stranger's cookie; Numbat, holding
                // only the cluster's cookie, cannot.
                _ = try await observer.local.rpc(cluster[0].name, "erlang", "set_cookie", [.atom(Atom(stranger.name.description)), .atom("other-cookie")])
                try await observer.connect(cluster[0], to: [stranger])
                await observer.shutdown()

                try await TestServer.with { server, client in
                    let added = try await client.call(.post, "/api/actions/add-node",
                                                      body: json(["node": cluster[0].name.description, "cookie": cluster[0].cookie, "discover": true]),
                                                      token: server.adminToken)
                    #expect(added.status == .created, "\(added.text)")
                    let discovered = (added["discovered"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                    #expect(Set(discovered) == [cluster[1].name.description, cluster[2].name.description])
                    let skipped = (added["skipped"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                    #expect(skipped == [stranger.name.description])
                    let nodes = try await client.call(.get, "/api/topo/nodes?state=UP", token: server.adminToken)
                    #expect((nodes["nodes"] as? [Any])?.count == 3)
                    let graph = try await client.call(.get, "/api/topo/graph", token: server.adminToken)
                    let edges = (graph["edges"] as? [[String: String]] ?? []).map { [$0["from"]!, $0["to"]!] }
                    #expect(edges.contains([cluster[0].name.description, cluster[1].name.description].sorted()))
                    #expect(edges.contains([cluster[1].name.description, cluster[2].name.description].sorted()))
                    #expect(!graph.text.contains(server.server.configuration.nodeName), "Numbat itself is not in the graph")
                }
            }
        }
    }

    @Test("a mixed OTP 25 + OTP 28 cluster is discovered from one node, one family per boot script", .requires(.otp28))
    func mixedClusterFamilies() async throws {
        try await TestNode.with(release: .otp25) { old in
            try await TestNode.with(release: .otp28, cookie: old.cookie) { (new: TestNode) async throws in
                let observer = try Observer(cookie: old.cookie)
                try await observer.connect(old, to: [new])
                await observer.shutdown()
                try await TestServer.with { server, client in
                    let added = try await client.call(.post, "/api/actions/add-node",
                                                      body: json(["node": old.name.description, "cookie": old.cookie, "discover": true]),
                                                      token: server.adminToken)
                    #expect(added.status == .created, "\(added.text)")
                    let discovered = (added["discovered"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                    #expect(discovered == [new.name.description])
                    let nodes = try await client.call(.get, "/api/topo/nodes?state=UP", token: server.adminToken)["nodes"] as? [[String: Any]] ?? []
                    #expect(Set(nodes.compactMap { $0["otp_release"] as? String }) == ["25", "28"])
                    let families = try await client.call(.get, "/api/topo/node_families", token: server.adminToken)["families"] as? [[String: Any]] ?? []
                    #expect(Set(families.compactMap { $0["name"] as? String }) == ["Erlang/OTP 25", "Erlang/OTP 28"])
                    #expect(families.allSatisfy { ($0["nodes"] as? [Any])?.count == 1 })
                    let graph = try await client.call(.get, "/api/topo/graph", token: server.adminToken)
                    let edges = (graph["edges"] as? [[String: String]] ?? []).map { [$0["from"]!, $0["to"]!] }
                    #expect(edges == [[old.name.description, new.name.description].sorted()])
                }
            }
        }
    }

    @Test("removing a node closes its connection and leaves nothing of Numbat on it", arguments: OTPRelease.installed)
    func remove(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            let observer = try Observer(cookie: peer.cookie)
            try await TestServer.with { server, client in
                let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: server.adminToken)
                let id = try #require((added["node"] as? [String: Any])?["id"] as? String)
                #expect(try await observer.hiddenPeers(of: peer) == [server.hiddenNodeName])
                let removed = try await client.call(.delete, "/api/topo/nodes/\(id)", token: server.adminToken)
                #expect(removed.status == .ok)
                #expect(try await client.call(.get, "/api/topo/nodes/\(id)", token: server.adminToken).status == .notFound)
                #expect(try await eventually(within: .seconds(30)) { try await observer.hiddenPeers(of: peer).isEmpty })
                #expect(server.server.nodes.managedCount == 0)
                // The node keeps running.
                #expect(try await observer.local.rpc(peer.name, "erlang", "node") == .atom(Atom(peer.name.description)))
            }
            await observer.shutdown()
        }
    }
}
