import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NumbatProviders
import NumbatTestSupport
import Testing

/// Orchestration end to end: releases, providers, families and deployments onto real SSH hosts
/// (network namespaces with their own sshd), running the demo release built with rebar3.
@Suite("orchestration on namespace hosts", .serialized,
       .enabled(if: TestHosts.isAvailable && DemoRelease.isBuildable, "needs root, iproute2, openssh-server and rebar3 (scripts/install-test-deps.sh)"))
struct OrchestrationTests {
    static let cookie = "numbat_demo_cookie"

    static func uploadDemo(server: TestServer, client: any TestClientProtocol, startCommand: String = "bin/numbat_demo daemon") async throws -> String {
        let archive = try await DemoRelease.archive()
        let uploaded = try await client.call(.post, "/api/orch/releases", body: json([
            "name": "Numbat demo", "start_cmd": startCommand, "stop_cmd": "bin/numbat_demo stop", "cookie": cookie,
            "node_name_templates": ["releases/0.1.0/vm.args"], "release": archive.base64EncodedString(),
        ]), token: server.adminToken)
        #expect(uploaded.status == .created, "\(uploaded.text)")
        #expect(uploaded["cookie"] as? String == "********" && !uploaded.text.contains(cookie), "the cookie is never shown")
        return try #require(uploaded["uuid"] as? String)
    }

    static func physicalProvider(_ name: String, addresses: [String], key: SSHKeyPair, directory: String,
                                 server: TestServer, client: any TestClientProtocol) async throws -> String {
        let made = try await client.call(.post, "/api/orch/providers", body: json([
            "type": "physical", "name": name, "hosts": addresses, "directory": directory, "private_key": key.openSSHPrivateKey,
        ]), token: server.adminToken)
        #expect(made.status == .created, "\(made.text)")
        #expect(!made.text.contains("PRIVATE KEY") && made["public_key"] as? String == key.authorizedKey, "\(made.text)")
        return try #require(made["uuid"] as? String)
    }

    static func family(_ name: String, release: String, server: TestServer, client: any TestClientProtocol) async throws -> String {
        let family = try await client.call(.post, "/api/topo/node_families", body: json([
            "name": name, "bootstrap_node_selection": "random", "bootstrap_strategy": "custom", "bootstrap_strategy_opts": [["cmd": "bin/bootstrap"]],
        ]), token: server.adminToken)
        let id = try #require(family["id"] as? String, "\(family.text)")
        #expect(try await client.call(.post, "/api/orch/node_families/\(id)/release", body: json(["release": release]), token: server.adminToken).status == .ok)
        let firewall = try await client.call(.post, "/api/orch/node_families/\(id)/firewall",
                                             body: #"[{"protocol": "tcp", "port_from": "4369", "port_to": "4369"}, {"protocol": "tcp", "port_from": 9100, "port_to": 9199}]"#,
                                             token: server.adminToken)
        #expect((firewall["firewall"] as? [Any])?.count == 2, "\(firewall.text)")
        return id
    }

    static func nodes(_ family: String, server: TestServer, client: any TestClientProtocol) async throws -> [[String: Any]] {
        try await client.call(.get, "/api/orch/node_families/\(family)/nodes", token: server.adminToken)["items"] as? [[String: Any]] ?? []
    }

    static func peers(_ node: String, server: TestServer, client: any TestClientProtocol) async throws -> Set<String> {
        let answer = try await client.call(.post, "/api/nodes/\(node)/rpc", body: json(["module": "erlang", "function": "nodes", "args": []]), token: server.adminToken)
        // Atoms come back as {"atom": name} (docs/commands.md).
        return Set((answer["result"] as? [[String: String]] ?? []).compactMap { $0["atom"] })
    }

    @Test("7 nodes over two pools of hosts: all UP and clustered; stop and start one; delete all and the family; nothing left on the hosts")
    func heterogeneousCluster() async throws {
        let key = SSHKeyPair.generate()
        try await TestHosts.with(count: 4, authorizedKeys: [key.authorizedKey]) { hosts in
            let poolA = hosts.hosts[0..<2].map(\.address)
            let poolB = hosts.hosts[2..<4].map(\.address)
            try await TestServer.with(.live) { server, client in
                let release = try await Self.uploadDemo(server: server, client: client)
                let rootA = hosts.directory.appendingPathComponent("pool-a").path
                let rootB = hosts.directory.appendingPathComponent("pool-b").path
                let providerA = try await Self.physicalProvider("Pool A", addresses: poolA, key: key, directory: rootA, server: server, client: client)
                let providerB = try await Self.physicalProvider("Pool B", addresses: poolB, key: key, directory: rootB, server: server, client: client)
                let family = try await Self.family("Demo cluster", release: release, server: server, client: client)
                for provider in [providerA, providerB] {
                    let domain = try await client.call(.post, "/api/orch/node_families/\(family)/domains",
                                                       body: json(["provider": provider, "ssh_user": "root", "vdisk": "anything", "hw_profile": "anything"]), token: server.adminToken)
                    #expect(domain.status == .created, "\(domain.text)")
                }
                for (provider, amount) in [(providerA, 4), (providerB, 3)] {
                    let deployed = try await client.call(.post, "/api/orch/node_families/\(family)/nodes",
                                                         body: json(["amount": amount, "autostart": true, "provider": provider]), token: server.adminToken)
                    #expect(deployed.status == .accepted && (deployed["nodes"] as? [String])?.count == amount, "\(deployed.text)")
                }
                var listed: [[String: Any]] = []
                let allUp = try await eventually(within: .seconds(180)) {
                    listed = try await Self.nodes(family, server: server, client: client)
                    if let failed = listed.first(where: { $0["status"] as? String == "ERROR" }) { Issue.record("a node failed: \(failed)"); return true }
                    return listed.count == 7 && listed.allSatisfy { $0["step"] as? String == "done" && $0["status"] as? String == "UP" }
                }
                #expect(allUp, "\(listed.map { "\($0["step"] ?? "") \($0["status"] ?? "") \($0["message"] ?? "")" })")
                let ids = listed.compactMap { $0["id"] as? String }
                let names = Set(listed.compactMap { $0["name"] as? String })
                #expect(Set(listed.compactMap { $0["address"] as? String }) == Set(hosts.hosts.map(\.address)), "nodes are spread over every host")
                for id in ids {
                    let me = listed.first { $0["id"] as? String == id }?["name"] as? String ?? ""
                    let clustered = try await eventually(within: .seconds(20)) { try await Self.peers(id, server: server, client: client) == names.subtracting([me]) }
                    let seen = try await Self.peers(id, server: server, client: client)
                    #expect(clustered, "\(me) sees \(seen)")
                }

                // Stop one, start it again: it rejoins its cluster.
                let one = ids[0]
                let stopped = try await client.call(.post, "/api/orch/nodes/\(one)/stop", token: server.adminToken)
                #expect(stopped["status"] as? String == "STOPPED", "\(stopped.text)")
                let started = try await client.call(.post, "/api/orch/nodes/\(one)/start", token: server.adminToken)
                #expect(started["status"] as? String == "UP" && started["step"] as? String == "done", "\(started.text)")
                let oneName = listed.first { $0["id"] as? String == one }?["name"] as? String ?? ""
                let rejoined = try await eventually(within: .seconds(20)) { try await Self.peers(one, server: server, client: client) == names.subtracting([oneName]) }
                #expect(rejoined, "the restarted node is in its cluster again")

                // Delete everything: the hosts keep nothing of it.
                #expect(try await client.call(.delete, "/api/orch/node_families/\(family)", token: server.adminToken).status == .conflict)
                for id in ids {
                    let deleted = try await client.call(.delete, "/api/orch/nodes/\(id)", token: server.adminToken)
                    #expect(deleted.status == .noContent, "\(deleted.text)")
                }
                #expect(try await client.call(.delete, "/api/orch/node_families/\(family)", token: server.adminToken).status == .noContent)
                #expect(!FileManager.default.fileExists(atPath: rootA) && !FileManager.default.fileExists(atPath: rootB), "the deployment directories are gone")
                for host in hosts.hosts {
                    let beams = try await hosts.run(in: host, "pgrep -f '[n]umbat_demo' | wc -l")
                    #expect(beams.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "no node runs on \(host.address)")
                }
                let remaining = try await client.call(.get, "/api/topo/nodes", token: server.adminToken)
                #expect((remaining["nodes"] as? [Any])?.isEmpty == true, "\(remaining.text)")
            }
        }
    }
}
