import Foundation
import NumbatCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// FakeOpenStack (`Tests/Fakes/fake_openstack.py`) for one test: a hand-written fake of the
/// Keystone v3, Nova, Neutron and Glance calls Numbat makes, because no real OpenStack runs on
/// this machine. It is named a fake everywhere it is used; EC2 is tested against moto instead.
public final class FakeOpenStack: Sendable {
    /// The fake's user, project and password (the fake accepts exactly these).
    public static let username = "numbat"
    public static let password = "fake-openstack-password"
    public static let projectName = "numbat-project"
    public static let imageID = "5a1e2b3c-0000-4000-8000-000000000001"
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fakes/fake_openstack.py")

    public let authURL: URL
    private let process: Subprocess
    private let input: FileHandle

    private init(tokenSeconds: Int, fixedAddresses: [String]) throws {
        process = Subprocess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script.path, "--port", "0", "--token-seconds", String(tokenSeconds),
                             "--fixed-addresses", fixedAddresses.joined(separator: ",")]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        input = stdin.fileHandleForWriting
        // "listening on PORT" comes once the socket is bound.
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("listening on "), let port = Int(text.dropFirst("listening on ".count)) else {
            killAndReap(process.processIdentifier)
            throw TestHosts.Failure(description: "FakeOpenStack did not start: '\(text)'")
        }
        authURL = URL(string: "http://127.0.0.1:\(port)/v3")!
    }

    /// With `fixedAddresses`, new servers get these addresses in turn (hosts the test runs,
    /// such as `LoopbackHosts`), instead of unreachable documentation addresses.
    public static func with<T>(tokenSeconds: Int = 3600, fixedAddresses: [String] = [], _ body: (FakeOpenStack) async throws -> T) async throws -> T {
        let fake = try await offPool { try FakeOpenStack(tokenSeconds: tokenSeconds, fixedAddresses: fixedAddresses) }
        do {
            let value = try await body(fake)
            await fake.stop()
            return value
        } catch {
            await fake.stop()
            throw error
        }
    }

    /// Everything the fake holds: servers, keypairs, security_groups, ports, floatingips.
    public func state() async throws -> [String: Any] {
        let url = authURL.deletingLastPathComponent().appendingPathComponent("_fake/state")
        let (data, _) = try await URLSession.shared.data(from: url)
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// Revokes every token, as a cloud does when one is withdrawn early.
    public func revokeTokens() async throws {
        var request = URLRequest(url: authURL.deletingLastPathComponent().appendingPathComponent("_fake/revoke"))
        request.httpMethod = "POST"
        _ = try await URLSession.shared.data(for: request)
    }

    public func stop() async {
        try? input.close()
        let pid = process.processIdentifier
        _ = try? await offPool { killAndReap(pid) }
    }
}
