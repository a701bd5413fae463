import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NumbatAPI
import NumbatProviders
import NumbatTestSupport
import Testing

/// Orchestration end to end: releases, providers, families and deployments onto real SSH hosts
/// (network namespaces with their own sshd), running the demo release built with rebar3.
@Suite("orchestration on namespace hosts", .serialized,
       .requires(.namespaceHosts, .rebar3))
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

    static func family(_ name: String, release: String, selection: String = "random", server: TestServer, client: any TestClientProtocol) async throws -> String {
        let family = try await client.call(.post, "/api/topo/node_families", body: json([
            "name": name, "bootstrap_node_selection": selection, "bootstrap_strategy": "custom", "bootstrap_strategy_opts": [["cmd": "bin/bootstrap"]],
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

    /// The seed's scenario (4.1), scaled to one machine: one family whose domains span three
    /// providers of two kinds and both ways of reaching machines: a pool of namespace hosts, the
    /// Libcloud bridge with Libcloud's dummy driver (its machines are 127.0.0.3, .4, ...: sshd
    /// listens there, in the test's own network namespace) and a second pool of namespace hosts.
    @Test("7 nodes over a physical pool, Libcloud's dummy driver and a second pool: all UP and clustered; stop and start one; delete all and the family; nothing left on the hosts",
          .requires(.libcloud))
    func heterogeneousCluster() async throws {
        let key = SSHKeyPair.generate()
        try await TestHosts.with(count: 4, authorizedKeys: [key.authorizedKey], reachLoopback: true) { hosts in
          try await LoopbackHosts.with(addresses: (3...12).map { "127.0.0.\($0)" }, authorizedKeys: [key.authorizedKey]) { loopback in
            let poolA = hosts.hosts[0..<2].map(\.address)
            let poolB = hosts.hosts[2..<4].map(\.address)
            try await TestServer.with(.live) { server, client in
                let release = try await Self.uploadDemo(server: server, client: client)
                let rootA = hosts.directory.appendingPathComponent("pool-a").path
                let rootB = hosts.directory.appendingPathComponent("pool-b").path
                let providerA = try await Self.physicalProvider("Pool A", addresses: poolA, key: key, directory: rootA, server: server, client: client)
                let providerB = try await Self.physicalProvider("Pool B", addresses: poolB, key: key, directory: rootB, server: server, client: client)
                let dummy = try await client.call(.post, "/api/orch/providers", body: json([
                    "type": "libcloud", "name": "Libcloud dummy", "driver": "dummy", "ssh_port": loopback.port,
                ]), token: server.adminToken)
                #expect(dummy.status == .created, "\(dummy.text)")
                let providerC = try #require(dummy["uuid"] as? String)
                let family = try await Self.family("Demo cluster", release: release, selection: "round_robin", server: server, client: client)
                // The dummy's machines must let the family's key in, as a cloud's image would.
                let plan = try await client.call(.get, "/api/orch/node_families/\(family)", token: server.adminToken)
                let familyKey = try #require(plan["public_key"] as? String)
                try (key.authorizedKey + "\n" + familyKey + "\n").write(to: loopback.directory.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)
                for provider in [providerA, providerC, providerB] {
                    let domain = try await client.call(.post, "/api/orch/node_families/\(family)/domains",
                                                       body: json(["provider": provider, "ssh_user": "root", "vdisk": "1", "hw_profile": "1"]), token: server.adminToken)
                    #expect(domain.status == .created, "\(domain.text)")
                    if provider == providerC {
                        #expect((domain["warnings"] as? [String] ?? []).contains { $0.hasPrefix("firewall not applied") }, "the dummy has no security groups: \(domain.text)")
                    }
                }
                // Three on pool A by name; then four with no provider (seed listing 2): round robin
                // spreads them over the domains with the fewest nodes, two on the dummy, two on pool B.
                for (provider, amount) in [(providerA, 3), (nil, 4)] {
                    var body: [String: Any] = ["amount": amount, "autostart": true]
                    body["provider"] = provider
                    let deployed = try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(body), token: server.adminToken)
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
                #expect(Set(listed.compactMap { $0["address"] as? String }) == Set(hosts.hosts.map(\.address) + ["127.0.0.3", "127.0.0.4"]),
                        "nodes are spread over every host and both dummy machines")
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
                #expect(!FileManager.default.fileExists(atPath: loopback.directory.appendingPathComponent("home/numbat").path), "the dummy machines' directories are gone")
                // EPMD is the host's, shared by every node on it, and stays (as it would on a real host).
                let leftOnDummy = loopback.processes().map(commandLine(of:)).filter { !$0.contains("epmd") }
                #expect(leftOnDummy.isEmpty, "nothing runs on the dummy machines: \(leftOnDummy)")
                for host in hosts.hosts {
                    let left = try await hosts.processes(in: host).map(commandLine(of:)).filter { !$0.contains("sshd") && !$0.contains("epmd") }
                    #expect(left.isEmpty, "nothing but sshd and EPMD is left on \(host.address): \(left)")
                }
                let remaining = try await client.call(.get, "/api/topo/nodes", token: server.adminToken)
                #expect((remaining["nodes"] as? [Any])?.isEmpty == true, "\(remaining.text)")
                #expect(try await client.call(.delete, "/api/orch/providers/\(providerC)", token: server.adminToken).status == .noContent)
            }
          }
        }
    }

    static func upload(_ fields: [String: Any], archive: Data, server: TestServer, client: any TestClientProtocol) async throws -> JSONResponse {
        var body = fields
        body["release"] = archive.base64EncodedString()
        return try await client.call(.post, "/api/orch/releases", body: json(body), token: server.adminToken)
    }

    static func gzipTar(files: [String: String]) async throws -> Data {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-tar-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (path, text) in files {
            let file = directory.appendingPathComponent("content/" + path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        _ = try await ChildProcess.run("/bin/tar", ["czf", directory.appendingPathComponent("a.tar.gz").path, "-C", directory.appendingPathComponent("content").path, "."])
        return try Data(contentsOf: directory.appendingPathComponent("a.tar.gz"))
    }

    @Test("bad input: archives that are not releases, a missing template, an unknown provider, a refused key, a failing start command")
    func badInput() async throws {
        let key = SSHKeyPair.generate()
        let stranger = SSHKeyPair.generate()
        try await TestHosts.with(count: 1, authorizedKeys: [key.authorizedKey]) { hosts in
            try await TestServer.with(.live) { server, client in
                let demo = try await DemoRelease.archive()
                let fields: [String: Any] = ["name": "x", "start_cmd": "bin/numbat_demo daemon", "stop_cmd": "bin/numbat_demo stop", "cookie": Self.cookie]
                let notRelease = try await Self.gzipTar(files: ["README": "hello"])
                let cases: [(Data, [String: Any], String)] = [
                    (Data("hello".utf8), fields, "not gzip-compressed"),
                    (notRelease, fields, "not an Erlang release"),
                    (demo.prefix(demo.count / 2), fields, "truncated"),
                    (demo, fields.merging(["node_name_templates": ["etc/vm.args"]]) { $1 }, "the template etc/vm.args is not in the archive; files named vm.args in it: releases/0.1.0/vm.args"),
                    (demo, fields.merging(["node_name_templates": ["/etc/passwd"]]) { $1 }, "not inside the archive"),
                ]
                for (archive, body, words) in cases {
                    let refused = try await Self.upload(body, archive: archive, server: server, client: client)
                    let message = (refused["error"] as? [String: Any])?["message"] as? String ?? ""
                    #expect(refused.status == .unprocessableContent && message.contains(words), "\(words): \(refused.text)")
                }
                let releases = server.directory.appendingPathComponent("releases")
                #expect(try FileManager.default.contentsOfDirectory(atPath: releases.path).isEmpty, "refused uploads leave no file")
                #expect((try await client.call(.get, "/api/orch/releases", token: server.adminToken)["items"] as? [Any])?.isEmpty == true)
                #expect(try await client.call(.post, "/api/orch/releases", body: json(fields), token: server.adminToken).status == .badRequest)

                // The raw upload streams the archive; its fields come in the query.
                let query = "name=raw&start_cmd=bin/false-start&stop_cmd=bin/numbat_demo%20stop&cookie=\(Self.cookie)&node_name_templates=releases/0.1.0/vm.args"
                let raw = try await client.execute(uri: "/api/orch/releases?\(query)", method: .post,
                                                   headers: [.contentType: "application/gzip", .authorization: "Bearer \(server.adminToken)"],
                                                   body: ByteBuffer(bytes: demo)) { response in JSONResponse(status: response.status, text: String(buffer: response.body)) }
                #expect(raw.status == .created && raw["sha256"] as? String != nil && raw["version"] as? String == "0.1.0", "\(raw.text)")
                let failingRelease = try #require(raw["uuid"] as? String)

                let badRegion = try await client.call(.post, "/api/orch/providers", body: json([
                    "type": "ec2", "name": "e", "region": "eu west/1", "access_key_id": "a", "secret_access_key": "b"]), token: server.adminToken)
                #expect(badRegion.status == .badRequest, "a region that cannot name a host is refused: \(badRegion.text)")
                let unknown = try await client.call(.post, "/api/orch/providers", body: json(["type": "virtual", "vprovider": "nimbus", "name": "n"]), token: server.adminToken)
                #expect(unknown.status == .badRequest && unknown["error"].flatMap { ($0 as? [String: Any])?["code"] as? String } == "unknown_provider_type", "\(unknown.text)")

                let root = hosts.directory.appendingPathComponent("bad").path
                let refusedProvider = try await Self.physicalProvider("Refusing", addresses: [hosts.hosts[0].address], key: stranger, directory: root, server: server, client: client)
                let goodProvider = try await Self.physicalProvider("Good", addresses: [hosts.hosts[0].address], key: key, directory: root, server: server, client: client)
                let family = try await Self.family("Bad input", release: failingRelease, server: server, client: client)
                for provider in [refusedProvider, goodProvider] {
                    _ = try await client.call(.post, "/api/orch/node_families/\(family)/domains", body: json(["provider": provider, "ssh_user": "root"]), token: server.adminToken)
                }
                for (provider, words) in [(refusedProvider, "refused Numbat's key"), (goodProvider, "the start command (bin/false-start) on root@\(hosts.hosts[0].address) failed")] {
                    let deployed = try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 1, "provider": provider]), token: server.adminToken)
                    let id = try #require((deployed["nodes"] as? [String])?.first, "\(deployed.text)")
                    var node: JSONResponse?
                    let failed = try await eventually(within: .seconds(60)) {
                        node = try await client.call(.get, "/api/orch/nodes/\(id)", token: server.adminToken)
                        return node?["status"] as? String == "ERROR"
                    }
                    #expect(failed && (node?["last_error"] as? String ?? "").contains(words), "\(node?.text ?? "")")
                    #expect(try await client.call(.delete, "/api/orch/nodes/\(id)", token: server.adminToken).status == .noContent)
                }
                #expect(!FileManager.default.fileExists(atPath: root), "a failed deployment leaves nothing on the host")
                try await Self.storeFailsHalfWay(family: family, provider: goodProvider, server: server, client: client)
                #expect(try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 1, "provider": UUID().uuidString]), token: server.adminToken).status == .badRequest)
                #expect(try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 0, "provider": goodProvider]), token: server.adminToken).status == .badRequest)
            }
        }
    }

    /// A request for three nodes whose store refuses the second node's deployment record (a
    /// trigger in the server's own SQLite database, as a full disk would): the request fails
    /// with the store's error, and the first node and its record are taken back.
    static func storeFailsHalfWay(family: String, provider: String, server: TestServer, client: any TestClientProtocol) async throws {
        let database = try DatabaseQueue(path: server.directory.appendingPathComponent("numbat.sqlite").path)
        let deploymentRows = { try await database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM orch_record WHERE kind = 'deployment'") ?? -1 } }
        let rowsBefore = try await deploymentRows()
        let familyNodes = {
            let listed = try await client.call(.get, "/api/topo/nodes", token: server.adminToken)["nodes"] as? [[String: Any]] ?? []
            return listed.filter { ($0["family_id"] as? String)?.lowercased() == family.lowercased() }.count
        }
        let nodesBefore = try await familyNodes()
        try await database.write { db in
            try db.execute(sql: """
                CREATE TABLE test_allowance (records INTEGER NOT NULL);
                INSERT INTO test_allowance VALUES (1);
                CREATE TRIGGER test_refuse_deployments BEFORE INSERT ON orch_record WHEN NEW.kind = 'deployment' BEGIN
                    SELECT RAISE(ABORT, 'refused by the test') WHERE (SELECT records FROM test_allowance) <= 0;
                    UPDATE test_allowance SET records = records - 1;
                END;
                """)
        }
        let refused = try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 3, "provider": provider]), token: server.adminToken)
        #expect(refused.status.code >= 500 && refused.errorCode != nil, "the store's failure is the answer: \(refused.text)")
        #expect(try await database.read { try Int.fetchOne($0, sql: "SELECT records FROM test_allowance") } == 0,
                "the first node's record was stored before the second was refused")
        #expect(try await deploymentRows() == rowsBefore, "its record was taken back")
        #expect(try await familyNodes() == nodesBefore, "and its node")
        #expect(try await database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM node WHERE name LIKE '%@pending'") } == 0)
        try await database.write { db in
            try db.execute(sql: "DROP TRIGGER test_refuse_deployments; DROP TABLE test_allowance")
        }
    }

    @Test("EC2 (moto_server): a domain imports the family's key and makes its security group; a node whose host cannot be reached ends in ERROR with its instance terminated; deleting the family removes the key and group",
          .requires(.moto))
    func ec2Domain() async throws {
        try await MotoServer.with { moto in
            try await TestServer.with(.live) { server, client in
                let release = try await Self.uploadDemo(server: server, client: client)
                let made = try await client.call(.post, "/api/orch/providers", body: json([
                    "type": "virtual", "vprovider": "ec2", "name": "EC2", "region": "us-east-1", "endpoint": moto.endpoint.absoluteString,
                    "access_key_id": "AKIDNUMBAT", "secret_access_key": "ec2-secret-never-shown",
                ]), token: server.adminToken)
                #expect(made.status == .created && !made.text.contains("ec2-secret-never-shown") && made["secret_access_key"] as? String == "********", "\(made.text)")
                let provider = try #require(made["uuid"] as? String)
                let images = try await client.call(.get, "/api/orch/providers/\(provider)/images", token: server.adminToken)["items"] as? [[String: Any]] ?? []
                let image = try #require(images.first?["id"] as? String)
                let family = try await Self.family("On EC2", release: release, server: server, client: client)
                let domain = try await client.call(.post, "/api/orch/node_families/\(family)/domains",
                                                   body: json(["provider": provider, "ssh_user": "ubuntu", "vdisk": image, "hw_profile": "t2.micro"]), token: server.adminToken)
                #expect(domain.status == .created, "\(domain.text)")
                let ec2 = EC2Provider(configuration: .init(endpoint: moto.endpoint, region: "us-east-1",
                                                           credentials: .init(accessKeyID: "AKIDNUMBAT", secretAccessKey: "x")))
                let keyName = try #require(domain["key_name"] as? String)
                let group = try #require(domain["security_group"] as? String)
                #expect(try await ec2.keyPairNames().contains(keyName))
                #expect(Set(try await ec2.securityGroupRules(id: group) ?? []) == [FirewallRule(ipProtocol: "tcp", portFrom: 4369, portTo: 4369), FirewallRule(ipProtocol: "tcp", portFrom: 9100, portTo: 9199)])

                let deployed = try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 1, "provider": provider]), token: server.adminToken)
                let id = try #require((deployed["nodes"] as? [String])?.first, "\(deployed.text)")
                var node: JSONResponse?
                let failed = try await eventually(within: .seconds(90)) {
                    node = try await client.call(.get, "/api/orch/nodes/\(id)", token: server.adminToken)
                    return node?["status"] as? String == "ERROR"
                }
                let lastError = node?["last_error"] as? String ?? ""
                #expect(failed && lastError.hasPrefix("connecting: "), "\(node?.text ?? "")")
                let instances = try await ec2.instances(namePrefix: "numbat-\(id.lowercased())")
                #expect(instances.count == 1 && instances.allSatisfy { $0.state == "terminated" }, "no instance is left running: \(instances)")
                #expect(try await client.call(.delete, "/api/orch/nodes/\(id)", token: server.adminToken).status == .noContent)
                #expect(try await client.call(.delete, "/api/orch/node_families/\(family)", token: server.adminToken).status == .noContent)
                #expect(try await !ec2.keyPairNames().contains(keyName))
                #expect(try await ec2.securityGroupRules(id: group) == nil)
            }
        }
    }
}

extension OrchestrationTests {
    @Test("OpenStack (FakeOpenStack, a fake): a wrong password is a 400; a domain imports the key and makes the group; an unreachable node ends in ERROR with its server and floating IP released; deleting the family removes key and group")
    func openStackDomain() async throws {
        try await FakeOpenStack.with { fake in
            try await TestServer.with(.live) { server, client in
                let release = try await Self.uploadDemo(server: server, client: client)
                var fields: [String: Any] = [
                    "type": "virtual", "vprovider": "openstack", "name": "OpenStack", "auth_url": fake.authURL.absoluteString,
                    "username": FakeOpenStack.username, "password": "not-the-password", "project_name": FakeOpenStack.projectName,
                    "network": "private", "floating_ip_pool": "public",
                ]
                let refused = try await client.call(.post, "/api/orch/providers", body: json(fields), token: server.adminToken)
                #expect(refused.status == .badRequest && refused.text.contains("Keystone refused") && !refused.text.contains("not-the-password"), "\(refused.text)")
                fields["password"] = FakeOpenStack.password
                let made = try await client.call(.post, "/api/orch/providers", body: json(fields), token: server.adminToken)
                #expect(made.status == .created && made["password"] as? String == "********" && !made.text.contains(FakeOpenStack.password), "\(made.text)")
                let provider = try #require(made["uuid"] as? String)
                let images = try await client.call(.get, "/api/orch/providers/\(provider)/images", token: server.adminToken)["items"] as? [[String: Any]] ?? []
                #expect(images.first?["id"] as? String == FakeOpenStack.imageID)
                let family = try await Self.family("On OpenStack", release: release, server: server, client: client)
                let domain = try await client.call(.post, "/api/orch/node_families/\(family)/domains",
                                                   body: json(["provider": provider, "ssh_user": "debian", "vdisk": FakeOpenStack.imageID, "hw_profile": "1"]), token: server.adminToken)
                #expect(domain.status == .created, "\(domain.text)")
                let group = try #require(domain["security_group"] as? String)
                var state = try await fake.state()
                #expect((state["keypairs"] as? [[String: Any]])?.map { $0["name"] as? String } == [domain["key_name"] as? String])
                let rules = ((state["security_groups"] as? [[String: Any]])?.first?["security_group_rules"] as? [[String: Any]] ?? []).filter { $0["direction"] as? String == "ingress" }
                #expect(Set(rules.compactMap { $0["port_range_min"] as? Int }) == [4369, 9100], "\(rules)")

                let deployed = try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 1, "provider": provider]), token: server.adminToken)
                let id = try #require((deployed["nodes"] as? [String])?.first, "\(deployed.text)")
                var node: JSONResponse?
                let failed = try await eventually(within: .seconds(90)) {
                    node = try await client.call(.get, "/api/orch/nodes/\(id)", token: server.adminToken)
                    return node?["status"] as? String == "ERROR"
                }
                let lastError = node?["last_error"] as? String ?? ""
                #expect(failed && lastError.hasPrefix("connecting: "), "\(node?.text ?? "")")
                let address = node?["address"] as? String ?? ""
                #expect(address.hasPrefix("203.0.113."), "the node was reached on its floating IP: \(node?.text ?? "")")
                state = try await fake.state()
                #expect((state["servers"] as? [Any])?.isEmpty == true && (state["floatingips"] as? [Any])?.isEmpty == true, "no server or floating IP is left: \(state)")
                #expect(try await client.call(.delete, "/api/orch/nodes/\(id)", token: server.adminToken).status == .noContent)
                // The topology route deletes a deployment family as thoroughly as the orchestration one.
                #expect(try await client.call(.delete, "/api/topo/node_families/\(family)", token: server.adminToken).status == .noContent)
                state = try await fake.state()
                #expect((state["keypairs"] as? [Any])?.isEmpty == true && (state["security_groups"] as? [[String: Any]])?.contains { $0["id"] as? String == group } == false, "\(state)")
            }
        }
    }

    @Test("the seed's provider shapes (listing 5): HP and Rackspace over Keystone v2.0 (FakeOpenStack, a fake), EC2 with username and password (moto_server), physical with servers; answered in the seed's shape, secrets masked",
          .requires(.moto))
    func seedProviderShapes() async throws {
        try await FakeOpenStack.with { fake in
            try await MotoServer.with { moto in
                try await TestServer.with(.live) { server, client in
                    let base = fake.authURL.deletingLastPathComponent().absoluteString.trimmingCharacters(in: ["/"])
                    let tokens = base + "/v2.0/tokens"
                    func create(_ fields: [String: Any]) async throws -> JSONResponse {
                        try await client.call(.post, "/api/orch/providers", body: json(fields), token: server.adminToken)
                    }
                    func images(_ provider: JSONResponse) async throws -> [[String: Any]] {
                        let id = try #require(provider["uuid"] as? String)
                        return try await client.call(.get, "/api/orch/providers/\(id)/images", token: server.adminToken)["items"] as? [[String: Any]] ?? []
                    }
                    // Listing 5, as written (the service region is the fake's: the other one is unreachable).
                    let hp = try await create(["type": "virtual", "vprovider": "hp", "name": "HP", "username": FakeOpenStack.username,
                                               "password": FakeOpenStack.password, "auth_url": tokens, "tenant_name": FakeOpenStack.projectName,
                                               "service_region": "RegionOne"])
                    #expect(hp.status == .created, "\(hp.text)")
                    #expect(hp["type"] as? String == "hp" && (hp["driver"] as? String)?.isEmpty == false && hp["uuid"] != nil, "\(hp.text)")
                    let opts = hp["opts"] as? [String: Any] ?? [:]
                    #expect(opts["name"] as? String == "HP" && opts["type"] as? String == "virtual" && opts["vprovider"] as? String == "hp", "\(opts)")
                    #expect(opts["auth_url"] as? String == tokens && opts["tenant_name"] as? String == FakeOpenStack.projectName
                        && opts["service_region"] as? String == "RegionOne" && opts["password"] as? String == "********", "\(opts)")
                    #expect(!hp.text.contains(FakeOpenStack.password))
                    #expect(try await images(hp).first?["id"] as? String == FakeOpenStack.imageID, "HP's images through Keystone v2.0")
                    // A wrong tenant, a wrong password: Keystone v2.0's refusal, a 400 without the password.
                    let wrong = try await create(["type": "hp", "name": "HP", "username": FakeOpenStack.username, "password": "nope",
                                                  "auth_url": tokens, "tenant_name": FakeOpenStack.projectName])
                    #expect(wrong.status == .badRequest && wrong.text.contains("Keystone v2.0 refused") && !wrong.text.contains("\"nope\""), "\(wrong.text)")

                    // Rackspace: username, password, service_region (no tenant); auth_url only because Rackspace itself is not reachable here.
                    let rackspace = try await create(["type": "virtual", "vprovider": "rackspace", "name": "Rackspace", "username": FakeOpenStack.username,
                                                      "password": FakeOpenStack.password, "service_region": "RegionOne", "auth_url": tokens])
                    #expect(rackspace.status == .created && rackspace["type"] as? String == "rackspace", "\(rackspace.text)")
                    #expect(try await images(rackspace).count == 1)
                    // Without auth_url, Rackspace's own identity service (unreachable here: refused, nothing stored).
                    let seedRackspace = try JSONDecoder().decode(CreateProviderRequest.self, from: Data(#"{"type": "virtual", "vprovider": "rackspace", "name": "R", "username": "u", "password": "p", "service_region": "LON"}"#.utf8))
                    #expect(seedRackspace.configuration == .openstack(OpenStackProviderSettings(authURL: OpenStackProviderSettings.rackspaceAuthURL, username: "u",
                                                                                                 projectName: "", region: "LON", cloud: "rackspace")))
                    let defaulted = try await create(["type": "rackspace", "name": "R", "username": "u", "password": "p", "service_region": "LON"])
                    #expect(defaulted.status == .badRequest, "\(defaulted.text)")

                    // EC2: the API key and secret as username and password.
                    let ec2 = try await create(["type": "virtual", "vprovider": "ec2", "name": "EC2", "username": "AKIDSEED", "password": "seed-secret",
                                                "endpoint": moto.endpoint.absoluteString])
                    #expect(ec2.status == .created && ec2["type"] as? String == "ec2" && ec2["access_key_id"] as? String == "AKIDSEED", "\(ec2.text)")
                    let ec2Opts = ec2["opts"] as? [String: Any] ?? [:]
                    #expect(ec2Opts["username"] as? String == "AKIDSEED" && ec2Opts["password"] as? String == "********" && !ec2.text.contains("seed-secret"), "\(ec2Opts)")
                    #expect(try await images(ec2).isEmpty == false, "moto answered the key and secret given as username and password")

                    // Physical: servers.
                    let physical = try await create(["type": "physical", "name": "Local", "servers": ["192.0.2.10"]])
                    #expect(physical.status == .created && physical["type"] as? String == "physical", "\(physical.text)")
                    #expect((physical["opts"] as? [String: Any])?["type"] as? String == "physical")

                    // Listed back in the same shape.
                    let listed = try await client.call(.get, "/api/orch/providers", token: server.adminToken)["items"] as? [[String: Any]] ?? []
                    #expect(Set(listed.compactMap { $0["type"] as? String }) == ["hp", "rackspace", "ec2", "physical"], "\(listed)")
                }
            }
        }
    }

    @Test("a root-only image (the seed's Rackspace, over Keystone v2.0 of FakeOpenStack, a fake): the domain's user is made as root with the family's key, and the node deploys as that user to UP")
    func rootOnlyImage() async throws {
        let address = "127.0.0.21"
        // A user no machine has: made only in the host's own /etc.
        let user = "nb" + String(UUID().uuidString.prefix(6)).lowercased()
        try await LoopbackHosts.with(addresses: [address], authorizedKeys: [], privateUsers: true) { host in
            try await FakeOpenStack.with(fixedAddresses: [address]) { fake in
                try await TestServer.with(.live) { server, client in
                    let release = try await Self.uploadDemo(server: server, client: client)
                    let tokens = fake.authURL.deletingLastPathComponent().absoluteString.trimmingCharacters(in: ["/"]) + "/v2.0/tokens"
                    let made = try await client.call(.post, "/api/orch/providers", body: json([
                        "type": "virtual", "vprovider": "rackspace", "name": "Rackspace", "username": FakeOpenStack.username,
                        "password": FakeOpenStack.password, "service_region": "RegionOne", "auth_url": tokens, "ssh_port": host.port,
                    ]), token: server.adminToken)
                    let provider = try #require(made["uuid"] as? String, "\(made.text)")
                    let family = try await Self.family("Root only", release: release, server: server, client: client)
                    let domain = try await client.call(.post, "/api/orch/node_families/\(family)/domains",
                                                       body: json(["provider": provider, "ssh_user": user, "vdisk": FakeOpenStack.imageID, "hw_profile": "1"]),
                                                       token: server.adminToken)
                    #expect(domain.status == .created, "\(domain.text)")
                    // The image lets only root in, with the family's key (as the cloud puts it there).
                    let plan = try await client.call(.get, "/api/orch/node_families/\(family)", token: server.adminToken)
                    let familyKey = try #require(plan["public_key"] as? String)
                    try (familyKey + "\n").write(to: host.rootHome.appendingPathComponent(".ssh/authorized_keys"), atomically: true, encoding: .utf8)

                    let deployed = try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 1]), token: server.adminToken)
                    let id = try #require((deployed["nodes"] as? [String])?.first, "\(deployed.text)")
                    var node: JSONResponse?
                    let up = try await eventually(within: .seconds(180)) {
                        node = try await client.call(.get, "/api/orch/nodes/\(id)", token: server.adminToken)
                        return ["UP", "ERROR"].contains(node?["status"] as? String ?? "") && node?["step"] as? String != "starting"
                    }
                    #expect(up && node?["status"] as? String == "UP", "\(node?.text ?? "")")
                    // The node runs as the user Numbat made, who exists on the host only.
                    let whoami = try await client.call(.post, "/api/nodes/\(id)/rpc", body: json(["module": "os", "function": "cmd", "args_erlang": #"["id -un"]"#]),
                                                       token: server.adminToken)
                    #expect((whoami["erlang"] as? String)?.contains(user) == true, "\(whoami.text)")
                    let here = try await ChildProcess.run("/usr/bin/getent", ["passwd", user])
                    #expect(here.status != 0, "the user was made on the host's own /etc, not this machine's")
                    #expect(try await client.call(.delete, "/api/orch/nodes/\(id)", token: server.adminToken).status == .noContent)
                }
            }
        }
    }

    @Test("Libcloud: a driver Libcloud lacks is a 400 naming it; the provider shows its secret masked")
    func libcloudProviderRefusals() async throws {
        try await TestServer.with(.live) { server, client in
            let unknown = try await client.call(.post, "/api/orch/providers", body: json(["type": "libcloud", "name": "L", "driver": "no-such-driver"]), token: server.adminToken)
            #expect(unknown.status == .badRequest && unknown.text.contains("no-such-driver"), "\(unknown.text)")
            let missing = try await client.call(.post, "/api/orch/providers", body: json(["type": "libcloud", "name": "L"]), token: server.adminToken)
            #expect(missing.status == .badRequest, "\(missing.text)")
            let made = try await client.call(.post, "/api/orch/providers", body: json([
                "type": "libcloud", "name": "Dummy", "driver": "dummy", "secret": "libcloud-secret-never-shown", "driver_options": ["unused": true],
            ]), token: server.adminToken)
            // The dummy takes no keyword arguments: refused, in words that never include the secret.
            #expect(made.status == .badRequest && !made.text.contains("libcloud-secret-never-shown"), "\(made.text)")
            let dummy = try await client.call(.post, "/api/orch/providers", body: json(["type": "libcloud", "name": "Dummy", "driver": "dummy", "address_type": "private"]), token: server.adminToken)
            #expect(dummy.status == .created && dummy["secret"] as? String == "********" && dummy["address_type"] as? String == "private", "\(dummy.text)")
            let sizes = try await client.call(.get, "/api/orch/providers/\(try #require(dummy["uuid"] as? String))/sizes", token: server.adminToken)
            #expect((sizes["items"] as? [Any])?.count == 4, "\(sizes.text)")
        }
    }
}
