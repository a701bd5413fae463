import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NumbatAPI
import NumbatCore
import NumbatStore
import Testing

/// Orchestration's typed requests and provider configurations, without hosts or clouds: strict
/// decoding (a misspelt field is a 400 naming it), each kind's own checks, the deployment steps'
/// wire words, and provider rows written before the configurations were typed.
@Suite("orchestration requests and provider configurations")
struct OrchestrationRequestTests {
    /// Decodes and validates a provider request as the route does, returning the refusal.
    static func refusal(_ body: String) -> NumbatError? {
        do {
            let request = try JSONDecoder().decode(CreateProviderRequest.self, from: Data(body.utf8))
            try request.validate()
            return nil
        } catch let error as NumbatError {
            return error
        } catch {
            Issue.record("not a NumbatError: \(error)")
            return nil
        }
    }

    @Test("each provider kind refuses fields it does not take and values it cannot use, naming the field",
          arguments: [
              (#"{"type": "ec2", "name": "e", "acess_key_id": "a", "secret_access_key": "s"}"#, "unknown_field", "'acess_key_id'"),
              (#"{"type": "physical", "name": "p", "hosts": ["10.0.0.2"], "access_key_id": "a"}"#, "unknown_field", "'access_key_id'"),
              (#"{"type": "physical", "name": "p", "hosts": [{"address": "10.0.0.2", "port": 22}]}"#, "unknown_field", "'hosts.0.port'"),
              (#"{"type": "virtual", "vprovider": "nimbus", "name": "n"}"#, "unknown_provider_type", "nimbus"),
              (#"{"name": "n"}"#, "unknown_provider_type", "type must be"),
              (#"{"type": "ec2", "name": "e", "region": "eu west/1", "access_key_id": "a", "secret_access_key": "s"}"#, "invalid_field", "'region'"),
              (#"{"type": "ec2", "name": "e", "access_key_id": "a"}"#, "invalid_field", "'secret_access_key'"),
              (#"{"type": "ec2", "name": "e", "secret_access_key": "s"}"#, "invalid_field", "'access_key_id'"),
              (#"{"type": "ec2", "name": "e", "endpoint": "ftp://x", "access_key_id": "a", "secret_access_key": "s"}"#, "invalid_field", "'endpoint'"),
              (#"{"type": "ec2", "name": " ", "access_key_id": "a", "secret_access_key": "s"}"#, "invalid_field", "'name'"),
              (#"{"type": "physical", "name": "p"}"#, "invalid_field", "'hosts'"),
              (#"{"type": "physical", "name": "p", "hosts": ["10.0.0.2:ssh"]}"#, "invalid_field", "'hosts'"),
              (#"{"type": "physical", "name": "p", "hosts": ["10.0.0.2:70000"]}"#, "invalid_field", "'hosts'"),
              (#"{"type": "openstack", "name": "o", "username": "u", "password": "p", "project_name": "x"}"#, "invalid_field", "'auth_url'"),
              (#"{"type": "openstack", "name": "o", "auth_url": "http://k:5000/v3", "password": "p", "project_name": "x"}"#, "invalid_field", "'username'"),
              (#"{"type": "openstack", "name": "o", "auth_url": "http://k:5000/v3", "username": "u", "project_name": "x"}"#, "invalid_field", "'password'"),
              (#"{"type": "openstack", "name": "o", "auth_url": "http://k/v3", "username": "u", "password": "p", "project_name": "x", "ssh_port": 0}"#, "invalid_field", "'ssh_port'"),
              (#"{"type": "libcloud", "name": "l"}"#, "invalid_field", "'driver'"),
              (#"{"type": "libcloud", "name": "l", "driver": "dummy", "driver_options": [1]}"#, "invalid_field", "'driver_options'"),
              (#"{"type": "libcloud", "name": "l", "driver": "dummy", "address_type": "elastic"}"#, "invalid_field", "'address_type'"),
          ])
    func providerRefusals(body: String, code: String, words: String) {
        let error = Self.refusal(body)
        #expect(error?.code == code && error?.kind == .badRequest && error?.message.contains(words) == true, "\(body): \(String(describing: error))")
    }

    @Test("the seed's and Numbat's spellings decode to the same configurations; the secret is kept apart")
    func providerShapes() throws {
        let decoder = JSONDecoder()
        let seed = try decoder.decode(CreateProviderRequest.self, from: Data(#"{"type": "virtual", "vprovider": "ec2", "name": "e", "access_key_id": "a", "secret_access_key": "s"}"#.utf8))
        #expect(seed.configuration == .ec2(EC2ProviderSettings(region: "us-east-1", accessKeyID: "a")) && seed.secret == "s")
        let servers = try decoder.decode(CreateProviderRequest.self, from: Data(#"{"type": "physical", "name": "p", "servers": ["10.0.0.2", "10.0.0.3:2222", {"address": "10.0.0.4"}]}"#.utf8))
        #expect(servers.configuration == .physical(PhysicalProviderSettings(hosts: [ProviderHost(address: "10.0.0.2"), ProviderHost(address: "10.0.0.3", sshPort: 2222), ProviderHost(address: "10.0.0.4")])))
        #expect(servers.secret == nil, "a physical provider without a key gets one made by the server")
        let libcloud = try decoder.decode(CreateProviderRequest.self, from: Data(#"{"type": "libcloud", "name": "l", "driver": "gce", "key": "k", "secret": "s", "driver_options": {"project": "p", "zones": 2, "fast": true}}"#.utf8))
        #expect(libcloud.configuration == .libcloud(LibcloudProviderSettings(driver: "gce", key: "k", driverOptions: ["project": .string("p"), "zones": .int(2), "fast": .bool(true)])))
        try libcloud.validate()

        // What the CLI sends is what the server reads back.
        let made = CreateProviderRequest(name: "os", configuration: .openstack(OpenStackProviderSettings(authURL: "https://keystone:5000/v3", username: "u", projectName: "p",
                                                                                                        network: "private", sshPort: 2222, addressType: .private)), secret: "pw")
        let sent = try APICoding.encoder().encode(made)
        #expect(try decoder.decode(CreateProviderRequest.self, from: sent) == made)
        let fields = try #require(try JSONSerialization.jsonObject(with: sent) as? [String: Any])
        #expect(fields["type"] as? String == "openstack" && fields["password"] as? String == "pw" && fields["kind"] == nil, "\(fields)")
    }

    @Test("a provider answer shows the kind's secret masked, never a value, and reads back")
    func providerResponse() throws {
        let response = ProviderResponse(id: UUID(), name: "e", createdAt: Date(timeIntervalSince1970: 1_800_000_000),
                                        configuration: .ec2(EC2ProviderSettings(region: "eu-west-1", endpoint: "http://127.0.0.1:5000", accessKeyID: "AKID")))
        let data = try APICoding.encoder().encode(response)
        let fields = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(fields["secret_access_key"] as? String == "********" && fields["uuid"] as? String == fields["id"] as? String && fields["kind"] as? String == "ec2", "\(fields)")
        #expect(try APICoding.decoder().decode(ProviderResponse.self, from: data) == response)
    }

    @Test("provider rows as the untyped record stored them decode to the same configurations")
    func storedRows() throws {
        let rows: [(String, ProviderConfiguration)] = [
            (#"{"id": "0B0B0B0B-0000-4000-8000-000000000001", "name": "lab", "kind": "physical", "created_at": "2026-11-01T10:00:00Z", "hosts": [{"address": "10.0.0.2", "ssh_port": 22}], "directory": "/srv/numbat", "public_key": "ssh-ed25519 AAAA numbat"}"#,
             .physical(PhysicalProviderSettings(hosts: [ProviderHost(address: "10.0.0.2")], directory: "/srv/numbat", publicKey: "ssh-ed25519 AAAA numbat"))),
            (#"{"id": "0B0B0B0B-0000-4000-8000-000000000002", "name": "aws", "kind": "ec2", "created_at": "2026-11-01T10:00:00Z", "region": "eu-west-1", "endpoint": "http://127.0.0.1:5000", "access_key_id": "AKID"}"#,
             .ec2(EC2ProviderSettings(region: "eu-west-1", endpoint: "http://127.0.0.1:5000", accessKeyID: "AKID"))),
            (#"{"id": "0B0B0B0B-0000-4000-8000-000000000003", "name": "os", "kind": "openstack", "created_at": "2026-11-01T10:00:00Z", "auth_url": "http://k:5000/v3", "username": "u", "project_name": "p", "domain_name": "Default", "network": "private", "floating_ip_pool": "public", "ssh_port": 2222}"#,
             .openstack(OpenStackProviderSettings(authURL: "http://k:5000/v3", username: "u", projectName: "p", domainName: "Default", network: "private", floatingIPPool: "public", sshPort: 2222))),
            (#"{"id": "0B0B0B0B-0000-4000-8000-000000000004", "name": "dummy", "kind": "libcloud", "created_at": "2026-11-01T10:00:00Z", "driver": "dummy", "key": "k", "driver_options": {"zones": 2}, "address_type": "private"}"#,
             .libcloud(LibcloudProviderSettings(driver: "dummy", key: "k", driverOptions: ["zones": .int(2)], addressType: .private))),
        ]
        for (row, expected) in rows {
            let decoded = try APICoding.decoder().decode(ProviderConfiguration.self, from: Data(row.utf8))
            #expect(decoded == expected, "\(row)")
            // Written again, a row keeps its fields' names.
            let old = try #require(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
            let new = try #require(try JSONSerialization.jsonObject(with: APICoding.encoder().encode(decoded)) as? [String: Any])
            #expect(Set(new.keys).isSubset(of: Set(old.keys)), "\(new.keys.sorted()) vs \(old.keys.sorted())")
        }
    }

    @Test("deployment steps keep their wire words, and the WebSocket event types derive from them")
    func deploymentSteps() throws {
        #expect(DeploymentStep.allCases.map(\.rawValue) == ["creating_instance", "connecting", "uploading", "unpacking", "starting", "connecting_node",
                                                            "bootstrapping", "done", "failed", "stopping", "stopped", "deleting", "deleted"])
        let progress = DeploymentProgress(nodeID: UUID(), familyID: UUID(), step: .connectingNode, state: .down)
        #expect(progress.eventType == "deployment_connecting_node")
        let fields = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(progress)) as? [String: Any])
        #expect(fields["step"] as? String == "connecting_node" && fields["state"] as? String == "DOWN")
    }

    @Test("the write routes refuse misspelt fields with a 400 naming them; a provider row written before typed configurations is still served")
    func writeRoutes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-orch-requests-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let oldID = UUID()
        let store = try SQLiteStore(directory: directory)
        try await store.putRecord(kind: "provider", id: oldID, parent: nil, body: Data("""
            {"id": "\(oldID.uuidString)", "name": "old lab", "kind": "physical", "created_at": "2026-11-01T10:00:00Z",
             "hosts": [{"address": "10.0.0.9", "ssh_port": 2222}], "public_key": "ssh-ed25519 AAAA old"}
            """.utf8))
        try store.close()

        try await TestServer.with(directory: directory) { server, client in
            let token = server.adminToken
            func refused(_ method: HTTPRequest.Method, _ path: String, _ body: String, _ words: String) async throws {
                let answer = try await client.call(method, path, body: body, token: token)
                #expect(answer.status == .badRequest && answer.text.contains(words), "\(path) \(body): \(answer.status) \(answer.text)")
            }
            let listed = try await client.call(.get, "/api/orch/providers", token: token)
            let old = (listed["items"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "old lab" }
            #expect((old?["hosts"] as? [[String: Any]])?.first?["ssh_port"] as? Int == 2222 && old?["private_key"] as? String == "********", "\(listed.text)")

            try await refused(.post, "/api/orch/providers", #"{"type": "ec2", "name": "e", "access_key_id": "a", "secret_acces_key": "s"}"#, "secret_acces_key")
            let made = try await client.call(.post, "/api/orch/providers", body: #"{"type": "ec2", "name": "e", "access_key_id": "a", "secret_access_key": "never-shown", "endpoint": "http://127.0.0.1:9"}"#, token: token)
            #expect(made.status == .created && made["secret_access_key"] as? String == "********" && !made.text.contains("never-shown"), "\(made.text)")
            let provider = try #require(made["uuid"] as? String)
            #expect(try await client.call(.get, "/api/orch/providers/\(provider)", token: token)["endpoint"] as? String == "http://127.0.0.1:9")

            try await refused(.post, "/api/orch/releases", #"{"nmae": "x", "start_cmd": "a", "stop_cmd": "b", "cookie": "c", "release": "AAAA"}"#, "nmae")

            let family = try await client.call(.post, "/api/topo/node_families", body: #"{"name": "typed"}"#, token: token)
            let familyID = try #require(family["id"] as? String, "\(family.text)")
            try await refused(.post, "/api/orch/node_families/\(familyID)/release", #"{"releas": "\#(UUID().uuidString)"}"#, "releas")
            try await refused(.post, "/api/orch/node_families/\(familyID)/release", #"{"release": "latest"}"#, "'release'")
            try await refused(.post, "/api/orch/node_families/\(familyID)/firewall", #"[{"protocol": "tcp", "port_from": 1, "port_too": 2}]"#, "port_too")
            try await refused(.post, "/api/orch/node_families/\(familyID)/firewall", #"[{"protocol": "tcp", "port_from": "x", "port_to": 2}]"#, "'port_from'")
            try await refused(.post, "/api/orch/node_families/\(familyID)/firewall", #"[{"protocol": "sctp", "port_from": 1, "port_to": 2}]"#, "'protocol'")
            let firewall = try await client.call(.post, "/api/orch/node_families/\(familyID)/firewall", body: #"[{"protocol": "tcp", "port_from": "4369", "port_to": 4369}]"#, token: token)
            #expect((firewall["firewall"] as? [[String: Any]])?.first?["port_from"] as? Int == 4369, "\(firewall.text)")
            try await refused(.post, "/api/orch/node_families/\(familyID)/domains", #"{"provider": "\#(provider)", "ssh_usr": "root"}"#, "ssh_usr")
            try await refused(.post, "/api/orch/node_families/\(familyID)/domains", #"{"provider": "\#(provider)"}"#, "'ssh_user'")
            try await refused(.post, "/api/orch/node_families/\(familyID)/nodes", #"{"amount": 1, "provider": "\#(provider)", "autostrat": false}"#, "autostrat")
            try await refused(.post, "/api/orch/node_families/\(familyID)/nodes", #"{"amount": "two", "provider": "\#(provider)"}"#, "'amount'")
            #expect(try await client.call(.delete, "/api/orch/node_families/\(familyID)", token: token).status == .noContent)
        }
    }
}
