import Foundation

/// Certificates for TLS distribution, made by openssl for a test: a CA, the node's certificate
/// and Numbat's (both signed by the CA, naming 127.0.0.1 as an IP SAN), a rogue self-signed one,
/// and the node's `-ssl_dist_optfile` (`dist.conf`): verification both ways. Each in its own
/// directory, which the caller removes.
public struct TLSCertificates: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let directory: URL

    /// The file `name` (`ca.pem`, `node.pem`, `numbat.key`, `rogue.pem`, `dist.conf`, ...).
    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The arguments that start a node on TLS distribution with these certificates.
    public var nodeArguments: [String] { ["-proto_dist", "inet_tls", "-ssl_dist_optfile", path("dist.conf")] }

    public static func make() async throws -> TLSCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = TLSCertificates(directory: directory)
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
