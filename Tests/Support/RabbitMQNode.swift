import ErlangDist
import Foundation

/// A real RabbitMQ 3.10 node (Debian's `rabbitmq-server` package) for one test: a BEAM node of
/// its own under a long name `rabbitN@127.0.0.1`, its own directory (mnesia, logs, plugins,
/// config, pid file) under the temporary directory, its own AMQP and distribution ports, no
/// plugins, and the cookie the test chose; no system service involved. It registers with the
/// shared EPMD on the default port. Use `RabbitMQNode.with(cookie:)` so that it is stopped, its
/// OS processes gone and its directory removed on every path.
///
/// It runs `/usr/lib/rabbitmq/bin/rabbitmq-server` directly, as the tests' own user (root works):
/// the `/usr/sbin` wrappers switch to the `rabbitmq` user and its home, and with it to another
/// cookie. That script is a shell that runs the BEAM as its child and turns SIGTERM into a
/// graceful stop (a few seconds); its exit status says nothing (0 even when the boot failed).
/// The cookie is `$HOME/.erlang.cookie`, `HOME` being the node's directory, for the node and for
/// `rabbitmqctl` alike.
public struct RabbitMQNode: Sendable {
    /// The scripts of Debian's package, run directly (not the `/usr/sbin` wrappers).
    public static let scripts = URL(fileURLWithPath: "/usr/lib/rabbitmq/bin")
    public static var serverPath: String { scripts.appendingPathComponent("rabbitmq-server").path }
    public static var ctlPath: String { scripts.appendingPathComponent("rabbitmqctl").path }

    /// Whether Debian's rabbitmq-server and the `erl` it runs are installed.
    public static var isInstalled: Bool {
        [serverPath, ctlPath, "/usr/bin/erl"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `rabbitN@127.0.0.1`.
    public let name: NodeName
    public let cookie: String
    /// Everything of the node's: `HOME` (with `.erlang.cookie`), `mnesia/`, `log/`, the pid file.
    public let directory: URL
    /// The AMQP listener, on 127.0.0.1.
    public let amqpPort: Int
    /// The node's distribution port (`RABBITMQ_DIST_PORT`), registered with EPMD.
    public let distributionPort: Int
    /// What `rabbitmq-server` and `rabbitmqctl` run with, beside this process's own environment.
    public let environment: [String: String]
    private let process: BackgroundProcess

    /// The node's own log file (what it logs after its first second or so; before that it logs
    /// to standard output, see `output`).
    public var logFile: URL { directory.appendingPathComponent("log/\(name.description).log") }
    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
    /// What `rabbitmq-server` printed: the early boot log and the banner.
    public var output: String { process.output }

    /// The environment entry every OS process of this node inherits (the shell, the BEAM,
    /// `erl_child_setup`, `inet_gethost`, the disk monitor's shell): how `stop()` finds them all
    /// without touching any other node's.
    private var marker: String { "NUMBAT_RABBITMQ_NODE=\(directory.path)" }

    private init(name: NodeName, cookie: String, directory: URL, amqpPort: Int, distributionPort: Int,
                 environment: [String: String], process: BackgroundProcess)
    {
        self.name = name
        self.cookie = cookie
        self.directory = directory
        self.amqpPort = amqpPort
        self.distributionPort = distributionPort
        self.environment = environment
        self.process = process
    }

    /// Runs `body` against a fresh node, which is stopped (its processes gone) and removed
    /// afterwards, whatever happens.
    public static func with<T>(cookie: String, _ body: (RabbitMQNode) async throws -> T) async throws -> T {
        let node = try await start(cookie: cookie)
        do {
            let result = try await body(node)
            await node.stop()
            return result
        } catch {
            await node.stop()
            throw error
        }
    }

    /// Starts a node and waits until it has booted (up to 120 s: about 4 s on an idle machine,
    /// 11 s seen beside a build). A port taken between the probe and the node's listen is tried
    /// again with other ports. The caller stops it (`stop()`).
    public static func start(cookie: String) async throws -> RabbitMQNode {
        guard isInstalled else {
            throw Requirement.Missing(description: "needs \(Requirement.rabbitmq.description)")
        }
        var attempt = 0
        while true {
            attempt += 1
            let node = try await launch(cookie: cookie)
            do {
                try await node.waitUntilReady(timeout: 120)
                return node
            } catch {
                let text = node.output + node.log
                await node.stop()
                let portTaken = text.contains("eaddrinuse") || text.contains("could not bind to distribution port")
                if portTaken && attempt < 3 { continue }
                throw error
            }
        }
    }

    private static func launch(cookie: String) async throws -> RabbitMQNode {
        let files = FileManager.default
        let directory = files.temporaryDirectory.appendingPathComponent("numbat-rabbitmq-\(UUID().uuidString.prefix(8).lowercased())")
        try files.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            // Erlang refuses a cookie file others can read.
            guard files.createFile(atPath: directory.appendingPathComponent(".erlang.cookie").path, contents: Data(cookie.utf8),
                                   attributes: [.posixPermissions: 0o400])
            else { throw Failure(description: "cannot write the cookie file in \(directory.path)") }
            // No plugins (no management listener).
            try Data("[].\n".utf8).write(to: directory.appendingPathComponent("enabled_plugins"))
            let amqpPort = try freePort(onAll: ["127.0.0.1"])
            var distributionPort = try freePort(onAll: ["127.0.0.1"])
            while distributionPort == amqpPort { distributionPort = try freePort(onAll: ["127.0.0.1"]) }
            let name = NodeName(alive: "rabbit\(UInt32.random(in: 0...UInt32.max))", host: "127.0.0.1")
            let path = { (file: String) in directory.appendingPathComponent(file).path }
            let environment = [
                "HOME": directory.path,
                "RABBITMQ_USE_LONGNAME": "true",
                "RABBITMQ_NODENAME": name.description,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": "\(amqpPort)",
                "RABBITMQ_DIST_PORT": "\(distributionPort)",
                // Files that need not exist: nothing of /etc/rabbitmq is read.
                "RABBITMQ_CONF_ENV_FILE": path("rabbitmq-env.conf"),
                "RABBITMQ_CONFIG_FILE": path("rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": path("advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": path("enabled_plugins"),
                "RABBITMQ_PLUGINS_EXPAND_DIR": path("plugins-expand"),
                "RABBITMQ_MNESIA_BASE": path("mnesia"),
                "RABBITMQ_LOG_BASE": path("log"),
                "RABBITMQ_PID_FILE": path("rabbitmq.pid"),
                "NUMBAT_RABBITMQ_NODE": directory.path,
            ]
            let process = try await launchUnblocked(environment: environment)
            return RabbitMQNode(name: name, cookie: cookie, directory: directory, amqpPort: amqpPort,
                                distributionPort: distributionPort, environment: environment, process: process)
        } catch {
            try? files.removeItem(at: directory)
            throw error
        }
    }

    /// Starts the script with no signal blocked (`Subprocess`, through
    /// `BackgroundProcess`): its SIGTERM trap must run for a stop to be prompt.
    private static func launchUnblocked(environment: [String: String]) async throws -> BackgroundProcess {
        try await offPool { try BackgroundProcess(serverPath, [], environment: environment) }
    }

    /// Waits for the boot to complete (the banner's "Starting broker... completed", or the log's
    /// "Server startup complete"), then has `rabbitmqctl await_startup` confirm it, which also
    /// proves the cookie and the long name. `await_startup` alone cannot be the wait: it fails at
    /// once (status 69) while the node is not yet registered with EPMD.
    private func waitUntilReady(timeout: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while ContinuousClock.now < deadline {
            if output.contains("Starting broker... completed") || log.contains("Server startup complete") {
                let check = try await ctl(["await_startup", "--timeout", "60"])
                guard check.status == 0 else {
                    throw Failure(description: "rabbitmqctl await_startup against \(name) exited with \(check.status): "
                        + "\(check.standardError)\(check.standardOutput)")
                }
                return
            }
            guard process.isRunning else {
                throw Failure(description: "rabbitmq-server (\(name)) exited before it booted: \(output.suffix(3000))\n\(log.suffix(3000))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "rabbitmq-server (\(name)) not booted in \(Int(timeout)) s: \(output.suffix(3000))\n\(log.suffix(3000))")
    }

    /// Runs `rabbitmqctl -n NAME arguments` against this node (its cookie, long names); the
    /// caller judges the status. Each run is an escript BEAM of its own (about half a second).
    public func ctl(_ arguments: [String]) async throws -> ChildProcess {
        try await ChildProcess.run(Self.ctlPath, ["-n", name.description] + arguments,
                                   environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }

    /// Stops the node gracefully (SIGTERM to the script, which stops RabbitMQ: about 3 s),
    /// SIGKILL after 60 s; then waits until none of its OS processes is left, killing any that
    /// linger, and removes its directory.
    public func stop() async {
        await process.stop(grace: 60)
        // The script's SIGKILL would leave the BEAM behind, and the BEAM's children outlive it
        // by a moment: wait for every process carrying the marker, killing them after 5 s.
        let marker = Array(self.marker.utf8)
        let started = ContinuousClock.now
        while ContinuousClock.now < started + .seconds(20) {
            let left = Self.processes(carrying: marker)
            if left.isEmpty { break }
            if ContinuousClock.now > started + .seconds(5) {
                for pid in left { kill(pid, SIGKILL) }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Live processes whose environment holds `entry` (zombies have none, so they count as gone).
    private static func processes(carrying entry: [UInt8]) -> [Int32] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.filter { pid in
            guard pid != getpid() else { return false }
            let fd = open("/proc/\(pid)/environ", O_RDONLY)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count <= 0 { break }
                bytes.append(contentsOf: buffer[0..<count])
            }
            return bytes.split(separator: 0).contains { $0.elementsEqual(entry) }
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

}

extension Requirement {
    /// Debian's RabbitMQ 3.10 (`RabbitMQNode`).
    public static let rabbitmq = Requirement("Debian's rabbitmq-server (RabbitMQ 3.10 in /usr/lib/rabbitmq/bin; scripts/install-test-deps.sh)") {
        RabbitMQNode.isInstalled
    }
}
