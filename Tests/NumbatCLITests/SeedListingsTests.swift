import Foundation
import NumbatTestSupport
import Testing

/// The seed's REST listings are the API contract (issue 15): listings 5, 8, 9, 10 and 2 sent in
/// order with curl to `numbat serve`, with the seed's bodies, placeholders filled in, and the
/// providers the seed names in its own shapes: EC2 on moto_server, HP and Rackspace on
/// FakeOpenStack (a fake, over Keystone v2.0), physical hosts on namespace hosts reached with
/// the server user's own SSH setup (an RSA key named in an ssh_config). Where the seed's cloud
/// is not reachable from here, one field says where its stand-in is (`endpoint` for moto,
/// `auth_url` for Rackspace); nothing else is added.
@Suite("the seed's listings")
struct SeedListingsTests {
    /// curl, as the seed runs it: the status and the body.
    static func curl(_ method: String, _ url: String, _ body: String? = nil, file: URL? = nil) async throws -> (status: Int, body: String) {
        var arguments = ["-s", "-X", method, url, "-H", "Content-Type: application/json", "-H", "Accept: application/json", "-w", "\n%{http_code}"]
        if let body { arguments += ["-d", body] }
        if let file { arguments += ["-d", "@\(file.path)"] }
        let run = try await ChildProcess.run("/usr/bin/curl", arguments)
        let lines = run.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    static func object(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test("listings 5, 8, 9, 10 and 2 as curl requests: every request accepted; the nodes on reachable hosts UP, those on moto's unreachable instances in ERROR",
          .requires(.moto))
    func listings() async throws {
        let cloudHosts = ["127.0.0.41", "127.0.0.42", "127.0.0.43"]
        try await OperatorSSH.with(hosts: 2) { operatorSSH, physical in
          // The clouds' machines: sshd on port 22 as on a cloud, with only root, which takes the
          // family's key (written below, as the cloud would).
          try await LoopbackHosts.with(addresses: cloudHosts, authorizedKeys: [], privateUsers: true, port: 22) { machines in
            try await FakeOpenStack.with(fixedAddresses: cloudHosts) { openStack in
              try await MotoServer.with { moto in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-seed-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let server = try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directory.appendingPathComponent("data").path,
                                                            "--ssh-config", operatorSSH.configFile.path, "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))"])
                defer { server.kill() }
                let url = server.url
                var accepted: [String] = []
                func send(_ what: String, _ method: String, _ path: String, _ body: String? = nil, file: URL? = nil) async throws -> [String: Any] {
                    let (status, text) = try await Self.curl(method, url + path, body, file: file)
                    #expect((200..<300).contains(status), "\(what): \(status) \(text.prefix(400))")
                    accepted.append(what)
                    return Self.object(text)
                }
                let tokens = openStack.authURL.deletingLastPathComponent().absoluteString.trimmingCharacters(in: ["/"]) + "/v2.0/tokens"

                // 4.1.1: the providers. Listing 5 (HP), then EC2, Rackspace and the physical one as the text gives them.
                let hp = try await send("listing 5: the HP provider", "POST", "/api/orch/providers", """
                    {"type": "virtual",
                     "vprovider": "hp",
                     "name": "HP",
                     "username": "\(FakeOpenStack.username)",
                     "password": "\(FakeOpenStack.password)",
                     "auth_url": "\(tokens)",
                     "tenant_name": "\(FakeOpenStack.projectName)",
                     "service_region": "RegionOne"}
                    """)
                #expect(hp["type"] as? String == "hp" && hp["driver"] != nil && (hp["opts"] as? [String: Any])?["password"] as? String == "********", "\(hp)")
                let ec2 = try await send("the EC2 provider", "POST", "/api/orch/providers",
                                         #"{"type": "virtual", "vprovider": "ec2", "name": "EC2", "username": "AKIDSEED", "password": "seed-secret", "endpoint": "\#(moto.endpoint.absoluteString)"}"#)
                let rackspace = try await send("the Rackspace provider", "POST", "/api/orch/providers",
                                               #"{"type": "virtual", "vprovider": "rackspace", "name": "Rackspace", "username": "\#(FakeOpenStack.username)", "password": "\#(FakeOpenStack.password)", "service_region": "RegionOne", "auth_url": "\#(tokens)"}"#)
                let servers = physical.hosts.map { "\"\($0.address)\"" }.joined(separator: ", ")
                let local = try await send("the physical provider", "POST", "/api/orch/providers", #"{"type": "physical", "name": "Local", "servers": [\#(servers)]}"#)
                let ids = try [hp, ec2, rackspace, local].map { try #require($0["uuid"] as? String) }
                let (hpID, ec2ID, rackspaceID, localID) = (ids[0], ids[1], ids[2], ids[3])

                // Listing 8: the release, base64 in a JSON file sent with curl's @FILE.
                let archive = try await DemoRelease.archive()
                let request = directory.appendingPathComponent("release.request.json")
                try #"{"name": "Numbat demo Linux 64-bit", "start_cmd": "bin/numbat_demo daemon", "stop_cmd": "bin/numbat_demo stop", "cookie": "riak", "node_name_templates": ["releases/0.1.0/vm.args"], "release": "\#(archive.base64EncodedString())"}"#
                    .write(to: request, atomically: true, encoding: .utf8)
                let release = try await send("listing 8: the release", "POST", "/api/orch/releases", file: request)
                #expect(release["state"] as? String == "UPLOADED" && release["path"] != nil && release["templates"] != nil, "\(release)")
                let releaseID = try #require(release["uuid"] as? String)

                // Listing 9: the family, its release, its firewall, its domains.
                let family = try await send("listing 9: the family", "POST", "/api/topo/node_families", """
                    {"name": "Riak Cluster",
                     "bootstrap_node_selection": "random",
                     "bootstrap_strategy": "custom",
                     "bootstrap_strategy_opts": [{"cmd": "bin/bootstrap"}]}
                    """)
                #expect(family["node_selection"] as? String == "random" && (family["bootstrap_strategy_opts"] as? [String: String]) == ["cmd": "bin/bootstrap"]
                    && family["neighbors"] != nil && family["nodes"] != nil && family["plugins_opts"] != nil && family["deleted"] as? Bool == false, "\(family)")
                let familyID = try #require(family["id"] as? String)
                _ = try await send("listing 9: the family's release", "POST", "/api/orch/node_families/\(familyID)/release", #"{"release": "\#(releaseID)"}"#)
                _ = try await send("listing 9: the firewall", "POST", "/api/orch/node_families/\(familyID)/firewall", """
                    [{"protocol": "tcp", "port_from": "4369", "port_to": "4369"},
                     {"protocol": "tcp", "port_from": "8097", "port_to": "8099"},
                     {"protocol": "tcp", "port_from": "8087", "port_to": "8087"},
                     {"protocol": "tcp", "port_from": "8069", "port_to": "8069"},
                     {"protocol": "tcp", "port_from": "6000", "port_to": "7999"}]
                    """)
                let images = Self.object(try await Self.curl("GET", url + "/api/orch/providers/\(ec2ID)/images").body)["items"] as? [[String: Any]] ?? []
                let ami = try #require(images.first?["id"] as? String)
                for (provider, user, vdisk, profile, type) in [(ec2ID, "ubuntu", ami, "t1.micro", "virtual"), (hpID, "ubuntu", FakeOpenStack.imageID, "1", "virtual"),
                                                              (rackspaceID, "deploy", FakeOpenStack.imageID, "1", "virtual"), (localID, "root", "anything", "anything", "physical")] {
                    _ = try await send("listing 9: a domain", "POST", "/api/orch/node_families/\(familyID)/domains",
                                       #"{"provider": "\#(provider)", "ssh_user": "\#(user)", "vdisk": "\#(vdisk)", "hw_profile": "\#(profile)", "type": "\#(type)"}"#)
                }
                // The clouds put the family's key in root's authorized_keys (the machines have only root).
                let plan = Self.object(try await Self.curl("GET", url + "/api/orch/node_families/\(familyID)").body)
                let familyKey = try #require(plan["public_key"] as? String)
                try (familyKey + "\n").write(to: machines.rootHome.appendingPathComponent(".ssh/authorized_keys"), atomically: true, encoding: .utf8)

                // Listing 10: two nodes on EC2; listing 2: three with the amount alone; one more on each reachable provider.
                _ = try await send("listing 10", "POST", "/api/orch/node_families/\(familyID)/nodes", #"{"amount": 2, "autostart": true, "provider": "\#(ec2ID)"}"#)
                _ = try await send("listing 2", "POST", "/api/orch/node_families/\(familyID)/nodes", #"{"amount": 3}"#)
                for provider in [hpID, rackspaceID, localID] {
                    _ = try await send("a node on each reachable provider", "POST", "/api/orch/node_families/\(familyID)/nodes",
                                       #"{"amount": 1, "autostart": true, "provider": "\#(provider)"}"#)
                }
                #expect(accepted.count == 17, "\(accepted)")

                // Every node settles: UP on the reachable hosts, ERROR on moto's instances (no host behind them).
                let domains = Self.object(try await Self.curl("GET", url + "/api/orch/node_families/\(familyID)").body)["domains"] as? [[String: Any]] ?? []
                let ec2Domain = domains.first { ($0["provider"] as? String)?.lowercased() == ec2ID.lowercased() }?["id"] as? String
                var nodes: [[String: Any]] = []
                let settled = try await eventually(within: .seconds(300)) {
                    nodes = Self.object(try await Self.curl("GET", url + "/api/orch/node_families/\(familyID)/nodes").body)["items"] as? [[String: Any]] ?? []
                    return nodes.count == 8 && nodes.allSatisfy { ["UP", "ERROR"].contains($0["status"] as? String ?? "") && ["done", "failed"].contains($0["step"] as? String ?? "") }
                }
                let summary = nodes.map { "\($0["domain"] ?? "") \($0["status"] ?? "") \($0["message"] ?? "")" }
                #expect(settled, "\(summary)")
                for node in nodes {
                    let onEC2 = (node["domain"] as? String)?.lowercased() == ec2Domain?.lowercased()
                    #expect(node["status"] as? String == (onEC2 ? "ERROR" : "UP"), "\(node)")
                }
                #expect(nodes.filter { $0["status"] as? String == "UP" }.count >= 3)
                #expect(try await server.terminate() == 0)
              }
            }
          }
        }
    }
}
