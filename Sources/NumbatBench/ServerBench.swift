import Foundation
import NumbatCore
import NumbatTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `numbat-bench server`: what a `numbat serve` costs per managed node while idle, and how long it
/// takes to bring N nodes UP after a restart, for growing N, beside an Erlang hidden node
/// holding connections to the same nodes (the reference: what the BEAM itself pays).
struct ServerBench {
    var sizes: [Int]
    var idleSeconds: Double
    var release: OTPRelease

    /// One row of the report.
    struct Row {
        var nodes: Int
        var numbatRSS: Double
        var numbatBaseRSS: Double
        var numbatCPU: Double
        var restartSeconds: Double
        var erlangRSS: Double
        var erlangBaseRSS: Double
        var erlangCPU: Double
        var erlangConnectSeconds: Double
    }

    func run() async throws -> [Row] {
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        var pool: [TestNode] = []
        var rows: [Row] = []
        for size in sizes.sorted() {
            progress("server: starting \(size - pool.count) more OTP nodes (\(size) in all)")
            pool += try await startNodes(size - pool.count, release: release, cookie: cookie, prefix: "bench\(getpid())n", offset: pool.count)
            let peers = Array(pool.prefix(size))
            let reference = try await measureErlang(peers, cookie: cookie)
            let numbat = try await measureNumbat(peers, cookie: cookie)
            rows.append(Row(nodes: size, numbatRSS: numbat.rss, numbatBaseRSS: numbat.base, numbatCPU: numbat.cpu,
                            restartSeconds: numbat.restart, erlangRSS: reference.rss, erlangBaseRSS: reference.base,
                            erlangCPU: reference.cpu, erlangConnectSeconds: reference.connect))
        }
        for node in pool { await NodeReaper.shared.stop(node) }
        return rows
    }

    // MARK: The reference: an Erlang hidden node

    private func measureErlang(_ peers: [TestNode], cookie: String) async throws -> (rss: Double, base: Double, cpu: Double, connect: Double) {
        let names = peers.map { "'\($0.name)'" }.joined(separator: ",")
        // Connects to every peer in parallel (as Numbat does), reports the time, then idles.
        let script = """
            timer:sleep(1000), io:format("ready~n"), timer:sleep(4000),
            T0 = erlang:monotonic_time(millisecond), Parent = self(),
            [spawn(fun() -> Parent ! {done, net_adm:ping(N)} end) || N <- [\(names)]],
            Results = [receive {done, R} -> R end || _ <- [\(names)]],
            io:format("connected ~b ~b~n", [length([pong || pong <- Results]), erlang:monotonic_time(millisecond) - T0]),
            timer:sleep(infinity).
            """
        let process = Subprocess()
        process.executableURL = URL(fileURLWithPath: release.erl)
        process.arguments = ["-hidden", "-name", "benchref\(getpid())@127.0.0.1", "-setcookie", cookie, "-noshell", "-noinput", "-eval", script]
        let lines = try LineCollector.run(process)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        let pid = beamPID(of: process.processIdentifier)
        try await lines.wait(for: "ready", timeout: 30)
        // The VM gives back boot-time pages over its first seconds: measure once it has settled.
        try await Task.sleep(for: .seconds(2))
        let base = ProcessSample.rss(pid)
        let connected = try await lines.wait(for: "connected", timeout: 120)
        let parts = connected.split(separator: " ")
        guard parts.count == 3, Int(parts[1]) == peers.count, let milliseconds = Double(parts[2]) else {
            throw BenchFailure(description: "the Erlang reference did not connect to every node: \(connected)")
        }
        let (rss, cpu) = try await idle(pid)
        return (rss, base, cpu, milliseconds / 1000)
    }

    /// `erl` is a script that execs beam.smp: same pid on Linux.
    private func beamPID(of pid: Int32) -> Int32 { pid }

    // MARK: Numbat

    private func measureNumbat(_ peers: [TestNode], cookie: String) async throws -> (rss: Double, base: Double, cpu: Double, restart: Double) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let nodeName = "numbatbench\(getpid())"
        let first = try await ServeProcess.start(directory: directory, nodeName: nodeName)
        try await Task.sleep(for: .seconds(2))
        let base = ProcessSample.rss(first.pid)
        progress("server: adding \(peers.count) nodes to numbat serve")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, peer) in peers.enumerated() {
                if index >= 8 { try await group.next() }
                group.addTask {
                    _ = try await first.post("/api/actions/add-node", ["node": peer.name.description, "cookie": cookie])
                }
            }
            try await group.waitForAll()
        }
        let (rss, cpu) = try await idle(first.pid)
        first.terminate()

        progress("server: restarting numbat serve with \(peers.count) stored nodes")
        let clock = ContinuousClock()
        let start = clock.now
        let server = try await ServeProcess.start(directory: directory, nodeName: nodeName)
        while try await server.upCount() < peers.count {
            guard server.process.isRunning else { throw BenchFailure(description: "numbat serve exited: \(server.output.suffix(2000))") }
            guard clock.now - start < .seconds(300) else { throw BenchFailure(description: "nodes not UP after 300 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let restart = clock.now - start
        server.terminate()
        return (rss, base, cpu, Double(restart.components.seconds) + Double(restart.components.attoseconds) / 1e18)
    }

    /// RSS at the end of an idle window, and CPU used during it (percent of one core).
    private func idle(_ pid: Int32) async throws -> (rss: Double, cpu: Double) {
        let before = ProcessSample.cpuSeconds(pid)
        let clock = ContinuousClock()
        let start = clock.now
        try await Task.sleep(for: .milliseconds(Int(idleSeconds * 1000)))
        let elapsed = clock.now - start
        let cpu = (ProcessSample.cpuSeconds(pid) - before) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        return (ProcessSample.rss(pid), cpu * 100)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
}

/// RSS and CPU time of a process, from /proc.
enum ProcessSample {
    static func rss(_ pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return .nan }
        return kilobytes * 1024
    }

    static func cpuSeconds(_ pid: Int32) -> Double { cpuTime(pid).total }

    /// User and system CPU seconds of `pid` so far (`nan` when it is gone).
    static func cpuTime(_ pid: Int32) -> CPUTime {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return CPUTime(user: .nan, system: .nan) }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields after the command: state is 0, utime 11, stime 12 (clock ticks).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return CPUTime(user: .nan, system: .nan) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return CPUTime(user: user / ticks, system: system / ticks)
    }
}

/// A process's CPU seconds, in user space and in the kernel on its behalf.
struct CPUTime {
    var user: Double
    var system: Double
    var total: Double { user + system }

    static func - (lhs: CPUTime, rhs: CPUTime) -> CPUTime { CPUTime(user: lhs.user - rhs.user, system: lhs.system - rhs.system) }
}

/// Lines a child process prints, waited on by prefix.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""

    /// Runs `process` with its standard output and error collected (and copied to `copy`, if
    /// given, for reading while a long benchmark runs).
    static func run(_ process: Subprocess, copyTo copy: URL? = nil) throws -> LineCollector {
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let lines = LineCollector()
        let file = copy.flatMap { url -> FileHandle? in
            FileManager.default.createFile(atPath: url.path, contents: nil)
            return try? FileHandle(forWritingTo: url)
        }
        output.fileHandleForReading.readabilityHandler = { handle in
            // At end of file the handler would be called again and again: stop it.
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                try? file?.close()
            } else {
                lines.append(data)
                file?.write(data)
            }
        }
        try process.run()
        return lines
    }

    func append(_ data: Data) { lock.withLock { buffer += String(decoding: data, as: UTF8.self) } }

    var text: String { lock.withLock { buffer } }

    func wait(for prefix: String, timeout: Double) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchFailure(description: "no '\(prefix)' line within \(timeout) s: \(text.suffix(500))")
    }
}

/// `numbat serve` (the release binary beside numbat-bench) on a port it picks.
struct ServeProcess {
    let process: Subprocess
    let url: String
    let lines: LineCollector
    var output: String { lines.text }
    var pid: Int32 { process.processIdentifier }

    static func start(directory: URL, nodeName: String, extraArguments: [String] = [], environment: [String: String] = [:]) async throws -> ServeProcess {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("numbat")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw BenchFailure(description: "\(binary.path) is missing: swift build -c release --product numbat")
        }
        let process = Subprocess()
        process.executableURL = binary
        // NUMBAT_BENCH_SERVER_LOGS=DIR: each server logs at info level, copied to DIR/NODENAME.log.
        let logs = ProcessInfo.processInfo.environment["NUMBAT_BENCH_SERVER_LOGS"].map { URL(fileURLWithPath: $0) }
        process.arguments = ["serve", "--port", "0", "--data-dir", directory.path, "--node-name", nodeName,
                             "--log-level", logs == nil ? "warning" : "info"] + extraArguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let lines = try LineCollector.run(process, copyTo: logs?.appendingPathComponent("\(nodeName).log"))
        NodeReaper.shared.adoptProcess(process)
        // A server with thousands of stored nodes restores their metric history before it listens.
        let line = try await lines.wait(for: "numbat listening on ", timeout: 600)
        return ServeProcess(process: process, url: String(line.dropFirst("numbat listening on ".count)), lines: lines)
    }

    func post(_ path: String, _ body: [String: String], timeout: Double = 60) async throws -> Data {
        try await post(path, json: try JSONSerialization.data(withJSONObject: body), timeout: timeout)
    }

    /// Adds `node` (and, with `discover`, every node reachable from it).
    func addNode(_ node: String, cookie: String, discover: Bool, timeout: Double = 60) async throws {
        let body = try JSONEncoder().encode(AddNode(node: node, cookie: cookie, discover: discover))
        _ = try await post("/api/actions/add-node", json: body, timeout: timeout)
    }

    private struct AddNode: Encodable {
        var node: String
        var cookie: String
        var discover: Bool
    }

    func post(_ path: String, json: Data, timeout: Double) async throws -> Data {
        var request = URLRequest(url: URL(string: url + path)!)
        request.timeoutInterval = timeout
        request.httpMethod = "POST"
        request.httpBody = json
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 201 else {
            throw BenchFailure(description: "POST \(path) failed: \(String(decoding: data, as: UTF8.self))")
        }
        return data
    }

    func upCount(timeout: Double = 60) async throws -> Int {
        var request = URLRequest(url: URL(string: url + "/api/topo/nodes?state=UP")!)
        request.timeoutInterval = timeout
        let (data, _) = try await URLSession.shared.data(for: request)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return (object?["nodes"] as? [Any])?.count ?? 0
    }

    /// The server's own figures from `GET /metrics` (`process_*`, `numbat_heap_*`: unlabelled
    /// series only), by name.
    func ownMetrics(timeout: Double = 60) async throws -> [String: Double] {
        var request = URLRequest(url: URL(string: url + "/metrics")!)
        request.timeoutInterval = timeout
        let (data, _) = try await URLSession.shared.data(for: request)
        var figures: [String: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("process_") || line.hasPrefix("numbat_heap_") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { figures[String(parts[0])] = value }
        }
        return figures
    }

    func terminate() {
        process.terminate()
        // Not waitUntilExit: Foundation's wait can miss this child's exit beside long-lived
        // children of ours (the deploy benchmark's sshd) and hang.
        _ = waitForExit(process)
    }
}
