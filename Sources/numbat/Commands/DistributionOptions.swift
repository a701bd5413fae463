import ArgumentParser
import ErlangDist
import Foundation

/// How the CLI joins a cluster: cookie, local node name, timeout.
struct DistributionOptions: ParsableArguments {
    @Option(name: .long, help: "The cluster's cookie (default: $NUMBAT_COOKIE, then ~/.erlang.cookie).")
    var cookie: String?

    @Option(name: .long, help: "The local hidden node's name (alive or alive@host).")
    var localName: String = "numbat_cli_\(ProcessInfo.processInfo.processIdentifier)"

    @Option(name: .long, help: "Seconds to wait for the connection and for each call.")
    var timeout: Double = 10

    @OptionGroup var tlsFiles: TLSFileOptions

    var timeoutDuration: Duration { .milliseconds(Int(timeout * 1000)) }

    /// The TLS files given, read; nil when none is (plain TCP). All three or none.
    func tls() throws -> DistributionTLS? {
        try tlsFiles.credentials().map { DistributionTLS(certificateChain: $0.certificate, privateKey: $0.key, trustRoots: $0.ca) }
    }

    func resolvedCookie() throws -> String {
        if let cookie { return cookie }
        if let cookie = ProcessInfo.processInfo.environment["NUMBAT_COOKIE"] { return cookie }
        let file = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".erlang.cookie")
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        throw ValidationError("no cookie: pass --cookie, set NUMBAT_COOKIE, or create ~/.erlang.cookie")
    }

    func makeNode() throws -> LocalNode {
        var configuration = LocalNode.Configuration(name: localName, cookie: try resolvedCookie())
        configuration.connectTimeout = timeoutDuration
        return try LocalNode(configuration)
    }

    /// The node `text` names: `app@host`, or `app@host:9100` (`app@[::1]:9100`) for a node that
    /// runs without EPMD, whose port is then set on `local`.
    /// With `tls`, over TLS distribution.
    func peer(_ text: String, on local: LocalNode, tls: DistributionTLS?) throws(DistributionError) -> NodeName {
        let address = try NodeAddress(text)
        local.setDistributionPort(address.port, for: address.name)
        try local.setTLS(tls, for: address.name)
        return address.name
    }
}

/// Maps distribution errors to an error message on stderr and a sysexits-style exit code.
func exitCode(for error: DistributionError) -> ExitCode {
    switch error {
    case .authenticationFailed: return ExitCode(77)
    case .timeout: return ExitCode(75)
    case .badRPC: return ExitCode(70)
    case .invalidNodeName: return ExitCode(64)
    default: return ExitCode(69)
    }
}

func fail(_ error: DistributionError) -> ExitCode {
    FileHandle.standardError.write(Data("numbat: \(error)\n".utf8))
    return exitCode(for: error)
}
