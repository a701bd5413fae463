import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NumbatTestSupport
import Testing

/// The seed's physical provider: no key given, the hosts reachable "via SSH using passwordless
/// authentication" from the server's machine. Numbat then runs OpenSSH with the server user's
/// setup, here an ssh_config of the test's own (`ssh_config`, never `/root/.ssh`).
@Suite("physical hosts through the server user's OpenSSH", .serialized, .requires(.namespaceHosts, .rebar3))
struct OpenSSHDeploymentTests {
    /// A physical provider without `private_key`: nothing secret, no public key.
    static func provider(_ addresses: [String], directory: String, server: TestServer, client: any TestClientProtocol) async throws -> String {
        let made = try await client.call(.post, "/api/orch/providers", body: json([
            "type": "physical", "name": "Operator's SSH", "servers": addresses, "directory": directory,
        ]), token: server.adminToken)
        #expect(made.status == .created && made["public_key"] == nil, "\(made.text)")
        return try #require(made["uuid"] as? String)
    }

    /// Deploys `amount` nodes of the demo release over `provider` and waits until all are UP;
    /// returns the nodes' ids and their listing.
    static func deploy(_ amount: Int, provider: String, server: TestServer, client: any TestClientProtocol) async throws -> (ids: [String], listed: [[String: Any]]) {
        let release = try await OrchestrationTests.uploadDemo(server: server, client: client)
        let family = try await OrchestrationTests.family("Passwordless", release: release, server: server, client: client)
        let domain = try await client.call(.post, "/api/orch/node_families/\(family)/domains", body: json(["provider": provider, "ssh_user": "root"]), token: server.adminToken)
        #expect(domain.status == .created, "\(domain.text)")
        let deployed = try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": amount, "provider": provider]), token: server.adminToken)
        #expect(deployed.status == .accepted, "\(deployed.text)")
        let ids = deployed["nodes"] as? [String] ?? []
        var listed: [[String: Any]] = []
        let up = try await eventually(within: .seconds(120)) {
            listed = try await OrchestrationTests.nodes(family, server: server, client: client)
            if listed.contains(where: { $0["status"] as? String == "ERROR" }) { return true }
            return listed.count == amount && listed.allSatisfy { $0["step"] as? String == "done" && $0["status"] as? String == "UP" }
        }
        #expect(up && listed.allSatisfy { $0["status"] as? String == "UP" }, "\(listed.map { "\($0["step"] ?? "") \($0["status"] ?? "") \($0["message"] ?? "")" })")
        return (ids, listed)
    }

    @Test("no private_key: an RSA key named in the ssh_config reaches one host directly and another only through the bastion its ProxyJump names; both nodes UP")
    func rsaKeyAndBastion() async throws {
        let operatorSSH = try await OperatorSSH.make()
        defer { operatorSSH.remove() }
        // hosts[0] is the bastion; hosts[2]'s sshd listens only on its private link to it.
        try await TestHosts.with(count: 3, authorizedKeys: [operatorSSH.publicKey], behindBastion: 1) { hosts in
            let (bastion, direct, hidden) = (hosts.hosts[0], hosts.hosts[1], hosts.hosts[2])
            #expect(!canConnect(host: hidden.address, port: 22), "the hidden host cannot be reached by SSH but through the bastion")
            try operatorSSH.writeConfig(hosts: """
                Host \(hidden.address)
                  HostName \(hidden.sshAddress)
                  ProxyJump \(bastion.address)
                """)
            try await TestServer.with(.live, configure: { $0.sshConfig = operatorSSH.configFile.path }) { server, client in
                let root = hosts.directory.appendingPathComponent("operator").path
                let provider = try await Self.provider([direct.address, hidden.address], directory: root, server: server, client: client)
                let (ids, nodes) = try await Self.deploy(2, provider: provider, server: server, client: client)
                #expect(Set(nodes.compactMap { $0["address"] as? String }) == [direct.address, hidden.address], "one node on each host")
                for node in ids {
                    let deleted = try await client.call(.delete, "/api/orch/nodes/\(node)", token: server.adminToken)
                    #expect(deleted.status == .noContent, "\(deleted.text)")
                }
                #expect(!FileManager.default.fileExists(atPath: root + "/nodes"), "deleting the nodes cleaned the hosts over the same way")
            }
            let directLog = try String(contentsOf: hosts.directory.appendingPathComponent("sshd_1.log"), encoding: .utf8)
            let hiddenLog = try String(contentsOf: hosts.directory.appendingPathComponent("sshd_2.log"), encoding: .utf8)
            #expect(directLog.contains("Accepted publickey for root from \(hosts.gateway) ") && directLog.contains("ssh2: RSA "), "\(directLog)")
            #expect(hiddenLog.contains("Accepted publickey for root from 192.168.2.1 ") && hiddenLog.contains("ssh2: RSA "),
                    "the hidden host was logged in to from the bastion's side of the private link: \(hiddenLog)")
        }
    }

    @Test("no private_key: the key only in an ssh-agent (its file deleted) whose socket the server is given; the node UP")
    func agentOnly() async throws {
        let operatorSSH = try await OperatorSSH.make()
        defer { operatorSSH.remove() }
        try operatorSSH.writeConfig(keyFile: false)
        try await SSHAgent.with(in: operatorSSH.directory) { agent in
            try await agent.add(operatorSSH.keyFile)
            try FileManager.default.removeItem(at: operatorSSH.keyFile)
            #expect(try await agent.keys().hasPrefix("ssh-rsa "), "the agent holds the key, no file does")
            try await TestHosts.with(count: 1, authorizedKeys: [operatorSSH.publicKey]) { hosts in
                try await TestServer.with(.live, configure: {
                    $0.sshConfig = operatorSSH.configFile.path
                    $0.sshAuthSock = agent.socket
                }) { server, client in
                    let root = hosts.directory.appendingPathComponent("agent").path
                    let provider = try await Self.provider([hosts.hosts[0].address], directory: root, server: server, client: client)
                    _ = try await Self.deploy(1, provider: provider, server: server, client: client)
                }
            }
        }
    }
}
