import ErlangDist
import Foundation
import NumbatCore

/// A real OTP node started for a test: `erl -name|-sname` with a cookie, `numbat_test_peer`
/// on its code path, detached from nothing (the harness holds its OS pid), and killed by
/// `stop()`. Use `TestNode.with(...)` so the node is stopped on every path.
public final class TestNode: @unchecked Sendable {
    public enum NameStyle: Sendable { case long, short }

    public let name: NodeName
    public let release: OTPRelease
    public let cookie: String
    /// The fixed port of a node started without EPMD (`-erl_epmd_port P`): the one a test's
    /// own local node must be told (`setDistributionPort`).
    public let distributionPort: Int?
    private let process: Subprocess

    /// Starts a node and waits until it is ready. `host` is the long name's host (127.0.0.1
    /// unless given: another loopback address, `::1` with `-proto_dist inet6_tcp`);
    /// `environment` is added to the node's (`ERL_EPMD_PORT` for a node without EPMD). In
    /// `namespace` (`host` then being its address), the node and the EPMD it starts run there,
    /// where the test can cut their link (`ip netns exec` execs, so the pid is still the node's).
    public init(release: OTPRelease, style: NameStyle = .long, cookie: String = "numbat-test-cookie",
                alive: String? = nil, host: String? = nil, environment: [String: String] = [:], extraArgs: [String] = [],
                namespace: NetworkNamespace? = nil) throws
    {
        try release.requireInstalled()
        let alive = alive ?? "t\(UInt32.random(in: 0...UInt32.max))"
        let host = style == .long ? host ?? "127.0.0.1" : TestNode.shortHost
        self.name = NodeName(alive: alive, host: host)
        self.release = release
        self.cookie = cookie
        self.distributionPort = extraArgs.firstIndex(of: "-erl_epmd_port").flatMap { extraArgs.indices.contains($0 + 1) ? Int(extraArgs[$0 + 1]) : nil }
        let process = Subprocess()
        let arguments = [style == .long ? "-name" : "-sname", style == .long ? name.description : alive,
                         "-setcookie", cookie, "-noshell", "-noinput",
                         "-pa", try TestNode.supportBeams().path] + extraArgs
            + ["-eval", "numbat_test_peer:ready()"]
        if let namespace, self.distributionPort == nil {
            try TestNode.startEPMD(in: namespace, release: release, address: host, environment: environment)
        }
        let command = namespace?.command(release.erl, arguments) ?? (executable: release.erl, arguments: arguments)
        process.executableURL = URL(fileURLWithPath: command.executable)
        process.arguments = command.arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        self.process = process
        try process.run()
        try TestNode.waitForReady(output.fileHandleForReading, process: process, name: name)
    }

    /// Starts EPMD in `namespace` and waits until it accepts connections at `address`. `erl`
    /// would start one itself, but does not wait for it: a node whose registration comes first
    /// fails with `register/listen error: econnrefused`. (The namespace's processes, EPMD
    /// among them, are killed when it stops.)
    private static func startEPMD(in namespace: NetworkNamespace, release: OTPRelease, address: String,
                                  environment: [String: String]) throws
    {
        let epmd = URL(fileURLWithPath: release.erl).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("epmd").path
        let command = namespace.command(epmd, ["-daemon"])
        let port = environment["ERL_EPMD_PORT"].flatMap { Int($0) } ?? 4369
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        let daemon = try ChildProcess.runBlocking(command.executable, command.arguments, environment: merged)
        guard daemon.status == 0 else {
            throw ErlangScript.Failure(status: daemon.status, output: "epmd -daemon in \(namespace.name) failed: \(daemon.standardError)")
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while !canConnect(host: address, port: port) {
            guard ContinuousClock.now < deadline else {
                throw ErlangScript.Failure(status: 0, output: "EPMD in \(namespace.name) did not accept connections at \(address):\(port) within 30 s")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Starts a node off the cooperative pool; the caller stops it (`stopped()`).
    public static func start(release: OTPRelease, style: NameStyle = .long, cookie: String = "numbat-test-cookie",
                             alive: String? = nil, host: String? = nil, environment: [String: String] = [:],
                             extraArgs: [String] = [], namespace: NetworkNamespace? = nil) async throws -> TestNode
    {
        try await offPool {
            try TestNode(release: release, style: style, cookie: cookie, alive: alive, host: host, environment: environment, extraArgs: extraArgs,
                         namespace: namespace)
        }
    }

    /// Runs `body` with `count` fresh nodes, stopping them all afterwards whatever happens.
    public static func withNodes<T>(_ count: Int, release: OTPRelease, cookie: String = "numbat-test-cookie",
                                    extraArgs: [String] = [], _ body: ([TestNode]) async throws -> T) async throws -> T
    {
        var nodes: [TestNode] = []
        do {
            for _ in 0..<count { nodes.append(try await start(release: release, cookie: cookie, extraArgs: extraArgs)) }
            let result = try await body(nodes)
            for node in nodes { await node.stopped() }
            return result
        } catch {
            for node in nodes { await node.stopped() }
            throw error
        }
    }

    /// Runs `body` with a fresh node, stopping the node afterwards whatever happens.
    public static func with<T>(release: OTPRelease, style: NameStyle = .long, cookie: String = "numbat-test-cookie",
                               host: String? = nil, environment: [String: String] = [:],
                               extraArgs: [String] = [], _ body: (TestNode) async throws -> T) async throws -> T
    {
        let node = try await start(release: release, style: style, cookie: cookie, host: host, environment: environment, extraArgs: extraArgs)
        do {
            let result = try await body(node)
            await node.stopped()
            return result
        } catch {
            await node.stopped()
            throw error
        }
    }

    /// Kills the node (SIGKILL) and waits for it to be gone.
    public func stop() {
        let pid = process.processIdentifier
        let first = stopState.withLock { stopped -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        killAndReap(pid)
    }

    private let stopState = LockedFlag()

    /// `stop()` off the cooperative pool.
    public func stopped() async {
        _ = try? await offPool { self.stop() }
    }

    /// Freezes the node (SIGSTOP), as a hung machine would look from the network.
    public func freeze() { kill(process.processIdentifier, SIGSTOP) }
    public func thaw() { kill(process.processIdentifier, SIGCONT) }

    public var isRunning: Bool { stopState.withLock { !$0 } && process.isRunning }
    public var osPid: Int32 { process.processIdentifier }

    deinit { stop() }

    public static let shortHost: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let full = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(full.split(separator: ".").first ?? "localhost")
    }()

    /// Compiles `Tests/Support/erlang/*.erl` once per test process with OTP 25's erlc.
    static func supportBeams() throws -> URL {
        try compiledSupport.get()
    }

    private static let compiledSupport: Result<URL, any Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-beams-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sources = try FileManager.default.contentsOfDirectory(at: PackagePaths.erlangSupport, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "erl" }
        let erlc = Subprocess()
        erlc.executableURL = URL(fileURLWithPath: "/usr/bin/erlc")
        erlc.arguments = ["-o", directory.path] + sources.map(\.path)
        try erlc.run()
        erlc.waitUntilExit()
        guard erlc.terminationStatus == 0 else { throw ErlangScript.Failure(status: erlc.terminationStatus, output: "erlc failed") }
        atexit { try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-beams-\(getpid())")) }
        return directory
    }

    private static func waitForReady(_ handle: FileHandle, process: Subprocess, name: NodeName) throws {
        let deadline = Date().addingTimeInterval(30)
        var seen = ""
        while Date() < deadline {
            let data = handle.availableData
            if data.isEmpty {
                throw ErlangScript.Failure(status: process.isRunning ? 0 : process.terminationStatus, output: "node \(name) exited before it was ready: \(seen)")
            }
            seen += String(decoding: data, as: UTF8.self)
            if seen.contains("numbat-test-ready") {
                // Keep draining output so the node never blocks on a full pipe.
                handle.readabilityHandler = { handle in
                    if handle.availableData.isEmpty { handle.readabilityHandler = nil }
                }
                return
            }
        }
        throw ErlangScript.Failure(status: 0, output: "node \(name) not ready in 30 s: \(seen)")
    }
}

/// Sends SIGKILL (after SIGCONT, for a frozen child) and waits up to 10 s for the child to be
/// reaped, by its `Subprocess`'s reaper (reaping here too would race it for the status): a
/// child already reaped is no longer this process's to wait for (ECHILD).
public func killAndReap(_ pid: Int32) {
    guard pid > 0 else { return }
    kill(pid, SIGCONT)
    kill(pid, SIGKILL)
    for _ in 0..<2000 {
        var info = siginfo_t()
        if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1, errno == ECHILD { return }
        usleep(5000)
    }
}

/// A flag behind a lock.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    func withLock<T>(_ body: (inout Bool) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
