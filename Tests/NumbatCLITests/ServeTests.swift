import ErlangDist
import ErlangTerm
import Foundation
import NumbatCore
import NumbatTestSupport
import Testing

/// `numbat serve` as a process, driven by the `numbat` client commands, then stopped by SIGTERM.
@Suite("numbat serve with the node, family and token commands")
struct ServeTests {
    @Test("a user's session: serve, add with discovery, list, show, families and their connectivity, tokens, remove, SIGTERM")
    func session() async throws {
        try await TestNode.withNodes(2, release: .otp25, cookie: "serve-test-cookie") { peers in
            let observer = try LocalNode(.init(name: "observer\(UInt32.random(in: 0...UInt32.max))", cookie: peers[0].cookie))
            _ = try await observer.rpc(peers[0].name, "net_adm", "ping", [.atom(.init(peers[1].name.description))])
            try await ServeSession.with(["--log-level", "debug"]) { session in

                let added = try await session.numbat("node", "add", peers[0].name.description, "--cookie", peers[0].cookie, "--discover")
                #expect(added.status == 0, "\(added.standardError)")
                #expect(added.standardOutput.contains(peers[0].name.description) && added.standardOutput.contains(peers[1].name.description))
                let listed = try await session.numbat("node", "list")
                #expect(listed.standardOutput.components(separatedBy: "\n").filter { $0.contains(" UP ") }.count == 2, "\(listed.standardOutput)")
                let shown = try await session.numbat("node", "show", peers[1].name.description)
                #expect(shown.standardOutput.contains("state             UP"))
                let asJSON = try await session.numbat("node", "list", "--json")
                let nodes = try JSONSerialization.jsonObject(with: Data(asJSON.standardOutput.utf8)) as? [String: Any]
                #expect((nodes?["nodes"] as? [Any])?.count == 2)

                let families = try await session.numbat("family", "list")
                #expect(families.standardOutput.contains("Erlang/OTP 25") && families.standardOutput.contains("automatic"))
                let familyID = try #require(families.standardOutput.components(separatedBy: "\n").dropFirst().first?.split(separator: " ").first.map(String.init))
                let family = try await session.numbat("family", "show", familyID)
                #expect(family.standardOutput.contains(peers[0].name.description))
                // The two peers see each other: one side, a link each way.
                let connectivity = try await session.numbat("family", "connectivity", familyID)
                let (first, second) = (peers[0].name.description, peers[1].name.description)
                #expect(connectivity.status == 0 && connectivity.standardOutput.contains(": whole")
                        && connectivity.standardOutput.contains("\(first) -> \(second)") && connectivity.standardOutput.contains("\(second) -> \(first)"),
                        "\(connectivity.standardOutput)\(connectivity.standardError)")
                let unknown = try await session.numbat("family", "connectivity", "no-such-family")
                #expect(unknown.status == 1 && unknown.standardError.contains("no node family is named no-such-family"), "\(unknown.standardError)")

                let token = try await session.numbat("token", "create", "ci", "--role", "viewer")
                let secret = token.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(secret.hasPrefix("nbt_"))
                #expect(try await session.numbat("token", "list").standardOutput.contains("ci"))

                let missing = try await session.numbat("node", "show", "nobody@127.0.0.1")
                #expect(missing.status == 1 && missing.standardError.contains("no managed node"))
                let wrongCookie = try await session.numbat("node", "add", "x@127.0.0.1", "--cookie", "c")
                #expect(wrongCookie.status == 1 && wrongCookie.standardError.contains("node_unreachable"))

                let removed = try await session.numbat("node", "remove", peers[1].name.description)
                #expect(removed.standardOutput.contains("removed \(peers[1].name)"))

                // SIGTERM: a clean exit, connections closed, nothing secret in the log.
                let status = try await session.server.terminate()
                #expect(status == 0)
                let hidden = try await observer.rpc(peers[0].name, "erlang", "nodes", [.atom("hidden")])
                #expect(!hidden.description.contains(session.nodeName), "\(hidden)")
                #expect(session.server.output.contains("stopped"))
                #expect(!session.server.output.contains(peers[0].cookie), "the log never shows cookies")
                let adminToken = try String(contentsOf: session.dataDirectory.appendingPathComponent("admin-token"), encoding: .utf8)
                #expect(!session.server.output.contains(adminToken.trimmingCharacters(in: .whitespacesAndNewlines)), "nor tokens")
                await observer.shutdown()
            }
        }
    }

    @Test("metrics from the command line: history with a sparkline, and live samples")
    func metricsCommands() async throws {
        try await TestNode.with(release: .otp25, cookie: "serve-test-cookie") { peer in
            try await ServeSession.with(["--metrics-interval", "1"]) { session in
                #expect(try await session.numbat("node", "add", peer.name.description, "--cookie", peer.cookie).status == 0)
                // At least three points (one a second); a slow machine may have stored more by the time it asks.
                func points(_ output: String) -> Int {
                    guard let range = output.range(of: #"(\d+) points"#, options: .regularExpression) else { return 0 }
                    return Int(output[range].prefix { $0.isNumber }) ?? 0
                }
                var history = try await session.numbat("metrics", "get", peer.name.description, "memory_total", "--since", "10m")
                for _ in 0..<100 where points(history.standardOutput) < 3 {
                    try await Task.sleep(for: .milliseconds(100))
                    history = try await session.numbat("metrics", "get", peer.name.description, "memory_total", "--since", "10m")
                }
                let count = points(history.standardOutput)
                #expect(history.status == 0, "\(history.standardError)")
                #expect(count >= 3 && history.standardOutput.contains("memory_total on \(peer.name): \(count) points, raw, bytes"), "\(history.standardOutput)")
                let lines = history.standardOutput.components(separatedBy: "\n")
                #expect(lines.count > 1 && lines[1].count == count && lines[1].allSatisfy { "▁▂▃▄▅▆▇█".contains($0) }, "sparkline: \(lines)")
                #expect(history.standardOutput.contains("TIME") && history.standardOutput.contains("VALUE"))

                let live = try await session.numbat("metrics", "live", peer.name.description, "memory_total", "process_count", "--count", "2")
                #expect(live.status == 0, "\(live.standardError)")
                let rows = live.standardOutput.split(separator: "\n")
                #expect(rows.count == 3 && rows[0] == "TIME  memory_total  process_count", "\(live.standardOutput)")
                #expect(rows.dropFirst().allSatisfy { $0.split(separator: " ", omittingEmptySubsequences: true).count == 3 })
                let unknown = try await session.numbat("metrics", "get", "nobody@127.0.0.1", "memory_total")
                #expect(unknown.status == 1 && unknown.standardError.contains("no managed node"))
                #expect(try await session.server.terminate() == 0)
            }
        }
    }

    @Test("numbat logs prints the newest notifications and follows new ones")
    func logs() async throws {
        try await TestNode.with(release: .otp25, cookie: "serve-test-cookie") { peer in
            try await ServeSession.with { session in
                #expect(try await session.numbat("node", "add", peer.name.description, "--cookie", peer.cookie).status == 0)
                let observer = try LocalNode(.init(name: "observer\(UInt32.random(in: 0...UInt32.max))", cookie: peer.cookie))
                func logError(_ text: String) async throws {
                    let call = Term.binary(Array("logger:error(\"\(text)\"), ok.".utf8))
                    _ = try await observer.rpc(peer.name, "numbat_test_peer", "eval", [call])
                }
                // The agent is being injected: log until the first error shows up.
                var listed = try await session.numbat("logs", "--node", peer.name.description, "--severity", "error")
                for attempt in 0..<100 where !listed.standardOutput.contains("cli first") {
                    if attempt % 5 == 0 { try await logError("cli first") }
                    try await Task.sleep(for: .milliseconds(100))
                    listed = try await session.numbat("logs", "--node", peer.name.description, "--severity", "error")
                }
                #expect(listed.status == 0, "\(listed.standardError)")
                #expect(listed.standardOutput.contains("error    \(peer.name)  cli first"), "\(listed.standardOutput)")

                // --follow: errors are logged until the follower has printed a pushed one and exited.
                let finished = FinishedFlag()
                let follower = Task {
                    defer { finished.set() }
                    return try await session.numbat("logs", "--node", peer.name.description, "--limit", "1", "--follow", "--follow-count", "1")
                }
                for _ in 0..<100 where !finished.isSet {
                    try await logError("cli followed")
                    try await Task.sleep(for: .milliseconds(200))
                }
                if !finished.isSet { follower.cancel() }
                let followed = try await follower.value
                #expect(followed.status == 0, "\(followed.standardError)")
                #expect(followed.standardOutput.contains("cli followed"), "\(followed.standardOutput)")
                await observer.shutdown()
                #expect(try await session.server.terminate() == 0)
            }
        }
    }

    @Test("bad configuration is refused before anything starts")
    func badConfiguration() async throws {
        let badPort = try await ChildProcess.run(CLITests.numbat, ["serve", "--port", "70000"])
        #expect(badPort.status == 64 && badPort.standardError.contains("out of range"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-config-\(UUID().uuidString).json")
        try Data(#"{"port": 9, "colour": "red"}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let unknownKey = try await ChildProcess.run(CLITests.numbat, ["serve", "--config", file.path])
        #expect(unknownKey.status == 64 && unknownKey.standardError.contains("colour"))
        let badLevel = try await ChildProcess.run(CLITests.numbat, ["serve", "--log-level", "loud"], environment: ["NUMBAT_PORT": "1"])
        #expect(badLevel.status == 64 && badLevel.standardError.contains("log level"))
        let badRetention = try await ChildProcess.run(CLITests.numbat, ["serve", "--metrics-retention", "raw:1h,5m:1x"])
        #expect(badRetention.status == 64 && badRetention.standardError.contains("metrics retention"), "\(badRetention.standardError)")
        let badHostKeys = try await ChildProcess.run(CLITests.numbat, ["serve", "--ssh-host-keys", "trust-all"])
        #expect(badHostKeys.status == 64 && badHostKeys.standardError.contains("trust-all"), "\(badHostKeys.standardError)")
        // A store nobody listens at: should a check be missed, the server stops at once on it
        // (another error, a failure) instead of serving until the test is killed.
        let unreachable = ["--store", "postgres://numbat@127.0.0.1:1/none", "--port", "0"]
        let badLease = try await ChildProcess.run(CLITests.numbat, ["serve", "--alert-lease", "10", "--alert-send-timeout", "20"] + unreachable)
        #expect(badLease.status == 64 && badLease.standardError.contains("a claim must outlast a send"), "\(badLease.standardError)")
        let badAttempts = try await ChildProcess.run(CLITests.numbat, ["serve", "--alert-retry-attempts", "0"] + unreachable)
        #expect(badAttempts.status == 64 && badAttempts.standardError.contains("alert_retry_max_attempts"), "\(badAttempts.standardError)")
        try Data(#"{"alert_retry_initial_seconds": 60, "alert_retry_max_seconds": 30}"#.utf8).write(to: file)
        let badRetry = try await ChildProcess.run(CLITests.numbat, ["serve", "--config", file.path] + unreachable)
        #expect(badRetry.status == 64 && badRetry.standardError.contains("alert_retry_max_seconds (30)"), "\(badRetry.standardError)")
    }
}

/// Set once, read from anywhere.
final class FinishedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// `numbat serve` running in the background, its output collected.
final class ServerProcess: @unchecked Sendable {
    let process: Subprocess
    let url: String
    private let collected: OutputCollector

    private init(process: Subprocess, url: String, collected: OutputCollector) {
        self.process = process
        self.url = url
        self.collected = collected
    }

    var output: String { collected.text }

    /// Starts it and waits for its "listening" line. `executable`: the built `numbat`, or a
    /// program that ends up executing one (PackageTests' installed service).
    static func start(_ arguments: [String], executable: String = CLITests.numbat, environment: [String: String]? = nil,
                      timeout: Double = 30) async throws -> ServerProcess
    {
        try await offPool {
            let process = Subprocess()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            if let environment { process.environment = environment }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            let collected = OutputCollector()
            pipe.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData) }
            try process.run()
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline, process.isRunning {
                if let line = collected.text.components(separatedBy: "\n").first(where: { $0.hasPrefix("numbat listening on ") }) {
                    return ServerProcess(process: process, url: String(line.dropFirst("numbat listening on ".count)), collected: collected)
                }
                usleep(20_000)
            }
            process.terminate()
            throw StartFailure(description: "numbat serve did not start: \(collected.text)")
        }
    }

    /// SIGTERM, then the exit status (SIGKILL after `timeout` seconds).
    func terminate(timeout: Double = 10) async throws -> Int32 {
        try await offPool { [process] in
            process.terminate()
            if let status = waitForExit(process, timeout: timeout) { return status }
            Foundation.kill(process.processIdentifier, SIGKILL)
            return waitForExit(process)
        }
    }

    /// SIGKILL, unless the server has already exited (after `terminate`).
    func kill() {
        if waitForExit(process, timeout: 0) == nil { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}

struct StartFailure: Error, CustomStringConvertible {
    let description: String
}

final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
