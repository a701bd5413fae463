import Foundation

/// A real EC2 Query API for one test: PyPI's moto_server on its own loopback port, stopped
/// afterwards (moto keeps everything in memory, so nothing is left on disk).
public final class MotoServer: Sendable {
    public let endpoint: URL
    private let process: Process

    public static var isInstalled: Bool {
        (try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", "import moto.server, flask"]).status) == 0
    }

    private init(port: Int) throws {
        endpoint = URL(string: "http://127.0.0.1:\(port)/")!
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    public static func with<T>(_ body: (MotoServer) async throws -> T) async throws -> T {
        let server = try MotoServer(port: Int.random(in: 40_000...50_000))
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

    private func waitUntilListening() async throws {
        for _ in 0..<400 {
            let port = endpoint.port!
            if try await offPool({ canConnect(host: "127.0.0.1", port: port) }) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestHosts.Failure(description: "moto_server did not answer on \(endpoint)")
    }

    public func stop() async {
        let pid = process.processIdentifier
        _ = try? await offPool { killAndReap(pid) }
    }
}

/// Whether PyPI's apache-libcloud is importable (the Libcloud bridge needs it).
public enum LibcloudInstalled {
    public static let value = (try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", "import libcloud"]).status) == 0
}
