import Foundation
import NumbatCore
import NumbatTestSupport

/// A real Graphite receiver for one test: Debian's carbon-cache in a temporary directory, on
/// its own loopback ports, storing whisper files there; stopped and removed afterwards.
final class CarbonServer: Sendable {
    let directory: URL
    let linePort: Int
    private let process: Subprocess

    private init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-carbon-\(UUID().uuidString)")
        let whisper = directory.appendingPathComponent("storage/whisper")
        try FileManager.default.createDirectory(at: whisper, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("log"), withIntermediateDirectories: true)
        // Three ports in a row free now, below the ephemeral range: a port in use by another
        // test's server made carbon exit while the wait below connected to that server instead.
        var base = try freePort(onAll: ["127.0.0.1"])
        for _ in 0..<100 where !(1...2).allSatisfy({ offset in
            let socket = Socket4.bind(host: "127.0.0.1", port: base + offset)
            close(socket.fd)
            return socket.port == base + offset
        }) {
            base = try freePort(onAll: ["127.0.0.1"])
        }
        linePort = base
        let configuration = """
            [cache]
            STORAGE_DIR = \(directory.path)/storage
            LOCAL_DATA_DIR = \(whisper.path)
            WHITELISTS_DIR = \(directory.path)/storage/lists
            CONF_DIR = \(directory.path)
            LOG_DIR = \(directory.path)/log
            PID_DIR = \(directory.path)
            ENABLE_LOGROTATION = False
            ENABLE_TAGS = False
            MAX_CACHE_SIZE = inf
            MAX_UPDATES_PER_SECOND = 5000
            MAX_CREATES_PER_MINUTE = inf
            LINE_RECEIVER_INTERFACE = 127.0.0.1
            LINE_RECEIVER_PORT = \(base)
            ENABLE_UDP_LISTENER = False
            PICKLE_RECEIVER_INTERFACE = 127.0.0.1
            PICKLE_RECEIVER_PORT = \(base + 1)
            CACHE_QUERY_INTERFACE = 127.0.0.1
            CACHE_QUERY_PORT = \(base + 2)
            """
        try configuration.write(to: directory.appendingPathComponent("carbon.conf"), atomically: true, encoding: .utf8)
        try "[default]\npattern = .*\nretentions = 1s:1d\n".write(to: directory.appendingPathComponent("storage-schemas.conf"), atomically: true, encoding: .utf8)
        process = Subprocess()
        // Through the shell, its output to a file in the directory (carbon's console log).
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec /usr/bin/carbon-cache --config=\"$1/carbon.conf\" --nodaemon start </dev/null >\"$1/console.log\" 2>&1",
                             "carbon", directory.path]
        try process.run()
    }

    /// Waits until carbon accepts connections on its line port.
    private func waitUntilListening() async throws {
        for _ in 0..<300 {
            guard process.isRunning else {
                let log = (try? String(contentsOf: directory.appendingPathComponent("console.log"), encoding: .utf8)) ?? ""
                throw CarbonError(message: "carbon-cache exited before it listened on \(linePort): \(log.suffix(2000))")
            }
            if try await ChildProcess.run("/usr/bin/env", ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', \(linePort)), 1).close()"]).status == 0 {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CarbonError(message: "carbon-cache did not listen on \(linePort)")
    }

    /// The points of one metric path (`a.b.c`) carbon has written, via Debian's whisper-fetch.
    func points(_ path: String) async throws -> [Double] {
        let file = directory.appendingPathComponent("storage/whisper/" + path.replacingOccurrences(of: ".", with: "/") + ".wsp")
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        let from = Int(Date().timeIntervalSince1970) - 600
        let result = try await ChildProcess.run("/usr/bin/whisper-fetch", ["--from=\(from)", file.path])
        return result.standardOutput.split(separator: "\n").compactMap { line in
            line.split(separator: "\t").last.flatMap { Double($0) }
        }
    }

    /// Kills carbon (a test peer: nothing of it is kept) and removes its directory; the wait
    /// for the child runs off the cooperative pool, which the other tests share.
    func stop() async {
        let pid = process.processIdentifier
        _ = try? await offPool { killAndReap(pid) }
        try? FileManager.default.removeItem(at: directory)
    }

    static func with<T>(_ body: (CarbonServer) async throws -> T) async throws -> T {
        let carbon = try CarbonServer()
        do {
            try await carbon.waitUntilListening()
            let result = try await body(carbon)
            await carbon.stop()
            return result
        } catch {
            await carbon.stop()
            throw error
        }
    }
}

struct CarbonError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
