import Foundation
import NumbatTestSupport

/// `numbat serve` as a child process on a scratch data directory of its own (a random Erlang
/// node name, any free port), and the `numbat` CLI pointed at it: the set-up of every test that
/// drives the server the way a user does.
struct ServeSession {
    let directory: URL
    let nodeName: String
    let server: ServerProcess
    /// Added to the CLI's environment (besides `NUMBAT_URL`).
    let environment: [String: String]

    /// Runs `body` with a fresh server started with `arguments` added to `serve`'s; kills the
    /// server (if `body` did not stop it) and removes its directory afterwards.
    static func with<T>(_ arguments: [String] = [], environment: [String: String] = [:], label: String = "serve",
                        _ body: (ServeSession) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let nodeName = "numbat\(UInt32.random(in: 0...UInt32.max))"
        let server = try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directory.appendingPathComponent("data").path,
                                                    "--node-name", nodeName] + arguments)
        defer { server.kill() }
        return try await body(ServeSession(directory: directory, nodeName: nodeName, server: server, environment: environment))
    }

    /// The server's data directory.
    var dataDirectory: URL { directory.appendingPathComponent("data") }

    /// Runs the CLI against the server.
    func numbat(_ arguments: String...) async throws -> ChildProcess {
        try await run(arguments)
    }

    func run(_ arguments: [String]) async throws -> ChildProcess {
        let environment = ProcessInfo.processInfo.environment.merging(self.environment.merging(["NUMBAT_URL": server.url]) { $1 }) { $1 }
        return try await ChildProcess.run(CLITests.numbat, arguments, environment: environment)
    }
}
