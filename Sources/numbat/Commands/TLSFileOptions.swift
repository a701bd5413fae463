import ArgumentParser
import Foundation
import NumbatCore

/// `--tls-cert F --tls-key F --tls-ca F`: the PEM files for a node on TLS distribution, as
/// `numbat ping/rpc` use them directly and `numbat node add`, `node tls` and `family tls` send
/// them to the server. All three or none.
struct TLSFileOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: "For a node on TLS distribution (-proto_dist inet_tls): the PEM certificate to present to it.")
    var certificate: String?

    @Option(name: .customLong("tls-key"), help: "The PEM private key of --tls-cert.")
    var key: String?

    @Option(name: .customLong("tls-ca"), help: "The PEM CA certificates the node's certificate must chain to.")
    var ca: String?

    /// The files given, read; nil when none is (plain TCP).
    func credentials() throws -> TLSCredentials? {
        if [certificate, key, ca].allSatisfy({ $0 == nil }) { return nil }
        guard let certificate, let key, let ca else {
            throw ValidationError("TLS distribution needs all three of --tls-cert, --tls-key and --tls-ca")
        }
        func read(_ path: String, _ what: String) throws -> String {
            do {
                return try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read the \(what) \(path): \(error.localizedDescription)")
            }
        }
        return TLSCredentials(certificate: try read(certificate, "certificate"), key: try read(key, "key"), ca: try read(ca, "CA"))
    }
}
