import Foundation
import NumbatTestSupport
import Testing

/// TLS distribution (issue 14): a real OTP 25 node on `-proto_dist inet_tls` that verifies its
/// peers' certificates and presents its own, all made by openssl for the test.
@Suite("TLS distribution")
struct TLSDistributionTests {
    static let cookie = "tls-dist-cookie"

    /// A CA, the node's certificate and Numbat's (both signed by the CA, naming 127.0.0.1), a
    /// rogue self-signed one, and the node's `-ssl_dist_optfile`: verification both ways.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Certificates {
        let directory: URL
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        static func make() async throws -> Certificates {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let made = Certificates(directory: directory)
            func openssl(_ arguments: [String]) async throws {
                let run = try await ChildProcess.run("/usr/bin/openssl", arguments)
                guard run.status == 0 else { throw Failure(description: "openssl \(arguments.joined(separator: " ")): \(run.standardError)") }
            }
            let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            try await openssl(["req", "-x509"] + curve + ["-keyout", made.path("ca.key"), "-out", made.path("ca.pem"), "-days", "2", "-subj", "/CN=numbat test CA"])
            for who in ["node", "numbat"] {
                try await openssl(["req"] + curve + ["-keyout", made.path("\(who).key"), "-out", made.path("\(who).csr"), "-subj", "/CN=\(who)"])
                try "subjectAltName=IP:127.0.0.1\n".write(toFile: made.path("\(who).ext"), atomically: true, encoding: .utf8)
                try await openssl(["x509", "-req", "-in", made.path("\(who).csr"), "-CA", made.path("ca.pem"), "-CAkey", made.path("ca.key"),
                                   "-CAcreateserial", "-out", made.path("\(who).pem"), "-days", "2", "-extfile", made.path("\(who).ext")])
            }
            try await openssl(["req", "-x509"] + curve + ["-keyout", made.path("rogue.key"), "-out", made.path("rogue.pem"), "-days", "2",
                                                          "-subj", "/CN=rogue", "-addext", "subjectAltName=IP:127.0.0.1"])
            let side = { (verify: String) in
                #"{certfile, "\#(made.path("node.pem"))"}, {keyfile, "\#(made.path("node.key"))"}, {cacertfile, "\#(made.path("ca.pem"))"}, \#(verify)"#
            }
            try "[{server, [\(side("{verify, verify_peer}, {fail_if_no_peer_cert, true}"))]}, {client, [\(side("{verify, verify_peer}"))]}].\n"
                .write(toFile: made.path("dist.conf"), atomically: true, encoding: .utf8)
            return made
        }
    }

    @Test("ping and rpc over TLS with certificates verified both ways; a rogue certificate, a wrong CA and plain TCP are refused with reasons")
    func pingAndRPC() async throws {
        let certificates = try await Certificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await TestNode.with(release: .otp25, cookie: Self.cookie,
                                extraArgs: ["-proto_dist", "inet_tls", "-ssl_dist_optfile", certificates.path("dist.conf")]) { node in
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
}
