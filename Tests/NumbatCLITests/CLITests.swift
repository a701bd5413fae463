import Foundation
import NumbatTestSupport
import Testing

/// The `numbat` executable, run as a user would, against real OTP nodes.
@Suite("numbat ping and numbat rpc")
struct CLITests {
    /// The `numbat` binary built beside this test bundle.
    static let numbat: String = {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("numbat")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests.path }
        return PackagePaths.root.appendingPathComponent(".build/debug/numbat").path
    }()

    func numbat(_ arguments: String...) async throws -> ChildProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["NUMBAT_COOKIE"] = nil
        return try await ChildProcess.run(Self.numbat, arguments, environment: environment)
    }

    @Test("ping prints the round trip and the OTP release", arguments: OTPRelease.installed)
    func ping(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            let result = try await numbat("ping", peer.name.description, "--cookie", peer.cookie, "--count", "2")
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.contains("pong from \(peer.name): OTP \(release.rawValue)"))
            #expect(result.standardOutput.contains("rtt min"))
        }
    }

    @Test("rpc prints the result in Erlang syntax; failures map to exit codes", arguments: OTPRelease.installed)
    func rpc(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            let node = peer.name.description
            let reversed = try await numbat("rpc", node, "lists", "reverse", "[1, {a, <<\"b\">>}, 'C']", "--cookie", peer.cookie)
            #expect(reversed.status == 0, "\(reversed.standardError)")
            #expect(reversed.standardOutput == "['C',{a,<<\"b\">>},1]\n")

            let raised = try await numbat("rpc", node, "erlang", "error", "boom", "--cookie", peer.cookie)
            #expect(raised.status == 70)
            #expect(raised.standardError.contains("rpc failed") && raised.standardError.contains("boom"))

            let slow = try await numbat("rpc", node, "timer", "sleep", "5000", "--cookie", peer.cookie, "--timeout", "0.3")
            #expect(slow.status == 75)
            #expect(slow.standardError.contains("timed out"))

            let wrongCookie = try await numbat("rpc", node, "erlang", "node", "--cookie", "wrong")
            #expect(wrongCookie.status == 77)
            #expect(wrongCookie.standardError.contains("cookies do not match"))

            let badArgument = try await numbat("rpc", node, "lists", "reverse", "[1,", "--cookie", peer.cookie)
            #expect(badArgument.status == 64)
            #expect(badArgument.standardError.contains("argument 1"))
        }
    }

    @Test("an unknown node exits 69 with a readable message")
    func unknownNode() async throws {
        let result = try await numbat("ping", "nosuch\(UInt32.random(in: 0...UInt32.max))@127.0.0.1", "--cookie", "c")
        #expect(result.status == 69)
        #expect(result.standardError.contains("no node named"))
        #expect(result.standardOutput.isEmpty)
    }
}
