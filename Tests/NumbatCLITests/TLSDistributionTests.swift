import Foundation
import NumbatTestSupport
import Testing

/// TLS distribution (issue 14): a real OTP 25 node on `-proto_dist inet_tls` that verifies its
/// peers' certificates and presents its own, all made by openssl for the test.
@Suite("TLS distribution")
struct TLSDistributionTests {
    static let cookie = "tls-dist-cookie"

    @Test("ping and rpc over TLS with certificates verified both ways; a rogue certificate, a wrong CA and plain TCP are refused with reasons")
    func pingAndRPC() async throws {
        let certificates = try await TLSCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await TestNode.with(release: .otp25, cookie: Self.cookie,
                                extraArgs: certificates.nodeArguments) { node in
            func numbat(_ arguments: [String], certificate: String = "numbat", ca: String = "ca") async throws -> ChildProcess {
                try await ChildProcess.run(CLITests.numbat, arguments + ["--cookie", Self.cookie,
                                                                         "--tls-cert", certificates.path("\(certificate).pem"),
                                                                         "--tls-key", certificates.path("\(certificate).key"),
                                                                         "--tls-ca", certificates.path("\(ca).pem")])
            }
            let ping = try await numbat(["ping", node.name.description])
            #expect(ping.status == 0 && ping.standardOutput.contains("pong from \(node.name): OTP 25"), "\(ping.standardOutput) \(ping.standardError)")
            let rpc = try await numbat(["rpc", node.name.description, "lists", "reverse", "[1, 2, 3]"])
            #expect(rpc.status == 0 && rpc.standardOutput.contains("[3,2,1]"), "\(rpc.standardOutput) \(rpc.standardError)")
            // The connection is TLS on the node's side too: its net_address says tls.
            let proto = try await numbat(["rpc", node.name.description, "numbat_test_peer", "eval",
                                          #"<<"[element(4, element(2, lists:keyfind(address, 1, element(2, net_kernel:node_info(N))))) || N <- nodes(hidden)].">>"#])
            #expect(proto.standardOutput.contains("[tls]"), "\(proto.standardOutput) \(proto.standardError)")

            let rogue = try await numbat(["ping", node.name.description], certificate: "rogue")
            #expect(rogue.status != 0 && rogue.standardError.contains("the node refused Numbat's certificate"), "\(rogue.standardError)")
            let wrongCA = try await numbat(["ping", node.name.description], ca: "rogue")
            #expect(wrongCA.status != 0 && wrongCA.standardError.contains("the node's certificate does not verify"), "\(wrongCA.standardError)")
            let plain = try await ChildProcess.run(CLITests.numbat, ["ping", node.name.description, "--cookie", Self.cookie])
            #expect(plain.status != 0 && plain.standardError.contains("closed the connection during the handshake"), "\(plain.standardError)")
            let halfGiven = try await ChildProcess.run(CLITests.numbat, ["ping", node.name.description, "--cookie", Self.cookie,
                                                                         "--tls-cert", certificates.path("numbat.pem")])
            #expect(halfGiven.status != 0 && halfGiven.standardError.contains("all three"), "\(halfGiven.standardError)")
        }
    }

    struct Node: Decodable {
        var id: String
        var name: String
        var state: String
        var familyID: String?
        var lastError: String?

        enum CodingKeys: String, CodingKey {
            case id, name, state
            case familyID = "family_id"
            case lastError = "last_error"
        }
    }

    struct Nodes: Decodable { var nodes: [Node] }

    @Test("numbat serve manages a TLS node beside a plain one: certificates per node and per family, stored sealed; bad certificates refused with nothing stored")
    func serverManagesTLSNodes() async throws {
        let certificates = try await TLSCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await TestNode.with(release: .otp25, cookie: Self.cookie,
                                extraArgs: certificates.nodeArguments) { secure in
            try await TestNode.with(release: .otp25, cookie: Self.cookie) { plain in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-tls-serve-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: directory) }
                var server = try await NodesWithoutEPMDTests.server(directory)
                defer { server.kill() }
                func numbat(_ arguments: String...) async throws -> ChildProcess {
                    try await NodesWithoutEPMDTests.numbat(server, arguments)
                }
                func files(_ certificate: String = "numbat") -> [String] {
                    ["--tls-cert", certificates.path("\(certificate).pem"), "--tls-key", certificates.path("\(certificate).key"),
                     "--tls-ca", certificates.path("ca.pem")]
                }
                func nodes() async throws -> [Node] { try await API.get(Nodes.self, server.url, "/api/topo/nodes").nodes }
                let name = secure.name.description

                // Refused, each with its reason, and nothing stored: settings that do not parse
                // (400), a certificate the node refuses, no TLS at all.
                let (garbled, garbledAnswer) = try await API.call("POST", server.url, "/api/actions/add-node", body: [
                    "node": name, "cookie": Self.cookie, "tls": ["certificate": "not a PEM", "key": "nor this", "ca": "nor this"],
                ])
                #expect(garbled == 400 && "\(garbledAnswer ?? "")".contains("invalid_tls"), "\(garbled) \(String(describing: garbledAnswer))")
                let (partial, partialAnswer) = try await API.call("POST", server.url, "/api/actions/add-node", body: [
                    "node": name, "cookie": Self.cookie, "tls": ["certificate": "x"],
                ])
                #expect(partial == 400 && "\(partialAnswer ?? "")".contains("invalid_field") && "\(partialAnswer ?? "")".contains("private key, in PEM"), "\(partial) \(String(describing: partialAnswer))")
                let rogue = try await NodesWithoutEPMDTests.numbat(server, ["node", "add", name, "--cookie", Self.cookie] + files("rogue"))
                #expect(rogue.status != 0 && rogue.standardError.contains("the node refused Numbat's certificate"), "\(rogue.standardError)")
                let untold = try await numbat("node", "add", name, "--cookie", Self.cookie)
                #expect(untold.status != 0 && untold.standardError.contains("TLS"), "\(untold.standardError)")
                #expect(try await nodes().isEmpty)

                // A mixed fleet: the TLS node with its certificates, the plain node without.
                let added = try await NodesWithoutEPMDTests.numbat(server, ["node", "add", name, "--cookie", Self.cookie] + files())
                #expect(added.status == 0, "\(added.standardError)")
                let plainAdded = try await numbat("node", "add", plain.name.description, "--cookie", Self.cookie)
                #expect(plainAdded.status == 0, "\(plainAdded.standardError)")
                #expect(try await nodes().allSatisfy { $0.state == "UP" })

                // Managed over TLS as any node: metrics, rpc through the server, notifications.
                #expect(try await NodesWithoutEPMDTests.collects(server, name), "no metric points from \(name)")
                #expect(try await NodesWithoutEPMDTests.collects(server, plain.name.description), "no metric points from \(plain.name)")
                let proto = try await numbat("node", "rpc", name, "numbat_test_peer", "eval",
                                             #"<<"[element(4, element(2, lists:keyfind(address, 1, element(2, net_kernel:node_info(N))))) || N <- nodes(hidden)].">>"#)
                #expect(proto.status == 0 && proto.standardOutput.contains("[tls]"), "\(proto.standardOutput) \(proto.standardError)")
                let logged = try await numbat("node", "rpc", name, "logger", "error", #""told over TLS""#)
                #expect(logged.status == 0, "\(logged.standardError)")
                let noticed = try await eventually(within: .seconds(60)) {
                    try await numbat("logs", "--node", name, "--grep", "told over TLS").standardOutput.contains("told over TLS")
                }
                #expect(noticed, "the TLS node's log event never arrived")

                // The key never comes back, and is stored sealed.
                let key = try String(contentsOfFile: certificates.path("numbat.key"), encoding: .utf8)
                let keyBody = key.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
                #expect(!keyBody.isEmpty)
                let shown = try await numbat("node", "show", name, "--json")
                #expect(shown.status == 0 && !shown.standardOutput.contains("PRIVATE KEY") && !shown.standardOutput.contains(keyBody))

                // Restarted, the server reaches the TLS node with its stored certificates.
                #expect(try await server.terminate() == 0)
                let stored = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey])
                var scanned = 0
                while let file = stored?.nextObject() as? URL {
                    guard try file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
                    let bytes = try Data(contentsOf: file)
                    scanned += 1
                    #expect(bytes.range(of: Data(keyBody.utf8)) == nil && bytes.range(of: Data("PRIVATE KEY".utf8)) == nil, "\(file.path) holds the key")
                }
                #expect(scanned >= 2, "the store's files were scanned")
                server = try await NodesWithoutEPMDTests.server(directory)
                func allUp(_ count: Int) async throws -> Bool {
                    try await eventually(within: .seconds(60)) {
                        let all = try await nodes()
                        return all.count == count && all.allSatisfy { $0.state == "UP" }
                    }
                }
                #expect(try await allUp(2), "not UP after a restart: \(server.output.suffix(2000))")
                #expect(!server.output.contains(keyBody) && !server.output.contains("PRIVATE KEY"))

                // Per family: the node's own settings removed, its family's used from the next
                // connection (a restart); without either it is refused over plain TCP. (The plain
                // node runs the same release, so it is in the same automatic family: removed first.)
                let removed = try await numbat("node", "remove", plain.name.description)
                #expect(removed.status == 0, "\(removed.standardError)")
                let node = try #require(try await nodes().first { $0.name == name })
                let family = try #require(node.familyID)
                let familySet = try await NodesWithoutEPMDTests.numbat(server, ["family", "tls", family] + files())
                #expect(familySet.status == 0, "\(familySet.standardError)")
                let familyShown = try await numbat("family", "show", family)
                #expect(familyShown.standardOutput.contains("nodes without their own connect over TLS"), "\(familyShown.standardOutput)")
                let cleared = try await numbat("node", "tls", name, "--clear")
                #expect(cleared.status == 0, "\(cleared.standardError)")
                #expect(try await server.terminate() == 0)
                server = try await NodesWithoutEPMDTests.server(directory)
                let withFamily = try await allUp(1)
                let seen = try await nodes()
                #expect(withFamily, "not UP with the family's certificates: \(seen)")
                let familyCleared = try await numbat("family", "tls", family, "--clear")
                #expect(familyCleared.status == 0, "\(familyCleared.standardError)")
                #expect(try await server.terminate() == 0)
                server = try await NodesWithoutEPMDTests.server(directory)
                let refused = try await eventually(within: .seconds(60)) {
                    try await nodes().first { $0.name == name }.map { $0.state == "DOWN" && ($0.lastError ?? "").contains("TLS") } ?? false
                }
                let after = try await nodes()
                #expect(refused, "\(after)")
                // Bad settings for a node or a family are refused, and change nothing.
                let (badFamily, _) = try await API.call("PUT", server.url, "/api/topo/node_families/\(family)/tls",
                                                        body: ["certificate": "x", "key": "y", "ca": "z"])
                #expect(badFamily == 400)
                let mended = try await NodesWithoutEPMDTests.numbat(server, ["node", "tls", name] + files())
                #expect(mended.status == 0, "\(mended.standardError)")
                #expect(try await server.terminate() == 0)
            }
        }
    }
}
