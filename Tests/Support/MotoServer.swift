import Foundation
import NumbatCore

/// A real EC2 Query API for one test: PyPI's moto_server on its own port (on loopback, or on an
/// address of the test's network namespace), stopped afterwards (moto keeps everything in
/// memory, so nothing is left on disk).
public final class MotoServer: Sendable {
    public let endpoint: URL
    private let process: Subprocess

    public static var isInstalled: Bool {
        (try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", "import moto.server, flask"]).status) == 0
    }

    private init(host: String, port: Int) throws {
        endpoint = URL(string: "http://\(host):\(port)/")!
        process = Subprocess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "moto.server", "-H", host, "-p", String(port)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        // Its output says why, if it does not start.
        log = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-moto-\(port).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
    }

    private let log: URL

    public static func with<T>(host: String = "127.0.0.1", _ body: (MotoServer) async throws -> T) async throws -> T {
        let server = try MotoServer(host: host, port: try freePort(onAll: [host]))
        do {
            try await server.waitUntilListening()
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Up to 180 s: moto imports every AWS service it mocks before it listens, which takes a few
    /// seconds on an idle machine and, seen in CI, more than 20 on a busy one.
    private func waitUntilListening() async throws {
        let deadline = ContinuousClock.now + .seconds(180)
        let (host, port) = (endpoint.host!, endpoint.port!)
        while ContinuousClock.now < deadline {
            if try await offPool({ canConnect(host: host, port: port) }) { return }
            guard process.isRunning else {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                throw TestHosts.Failure(description: "moto_server exited (status \(process.terminationStatus)) before it answered: \(output.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw TestHosts.Failure(description: "moto_server did not answer on \(endpoint) in 180 s: \(output.suffix(2000))")
    }

    public func stop() async {
        let pid = process.processIdentifier
        _ = try? await offPool { killAndReap(pid) }
        try? FileManager.default.removeItem(at: log)
    }
}

/// Whether PyPI's apache-libcloud is importable (the Libcloud bridge needs it).
public enum LibcloudInstalled {
    public static let value = (try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", "import libcloud"]).status) == 0
}
