import Foundation
import NumbatCore
import NumbatTestSupport

/// `numbat-sim` processes presenting one layout of simulated nodes, split so each process stays
/// under the open-file limit (a listener and a connection per node), and their census lines
/// summed: how many nodes have a Numbat connected and run its agents.
final class SimulatorFleet: @unchecked Sendable {
    let total: Int
    let epmdPort: Int
    let cookie: String
    let prefix: String
    private let processes: [LineCollector]
    private let children: [Subprocess]

    struct Census: Equatable {
        var connected = 0
        var metricsAgents = 0
        var metricsRunning = 0
        var logAgents = 0
    }

    /// Starts `total` simulated nodes, `perProcess` per process.
    static func start(total: Int, perProcess: Int = 5000, cookie: String, profile: URL? = nil,
                      logsPerMinute: Double, alarmsPerHour: Double) async throws -> SimulatorFleet {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("numbat-sim")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw BenchFailure(description: "\(binary.path) is missing: swift build -c release --product numbat-sim")
        }
        let epmdPort = 20000 + Int(getpid() % 20000)
        let prefix = "sim\(getpid())x"
        var collectors: [LineCollector] = []
        var children: [Subprocess] = []
        for first in stride(from: 0, to: total, by: perProcess) {
            let process = Subprocess()
            process.executableURL = binary
            process.arguments = ["run", "--count", "\(min(perProcess, total - first))", "--first", "\(first)", "--total", "\(total)",
                                 "--epmd-port", "\(epmdPort)", "--cookie", cookie, "--prefix", prefix,
                                 "--logs-per-minute", "\(logsPerMinute)", "--alarms-per-hour", "\(alarmsPerHour)"]
                + (profile.map { ["--profile", $0.path] } ?? [])
            collectors.append(try LineCollector.run(process))
            children.append(process)
            NodeReaper.shared.adoptProcess(process)
        }
        let fleet = SimulatorFleet(total: total, epmdPort: epmdPort, cookie: cookie, prefix: prefix, processes: collectors, children: children)
        for collector in collectors { _ = try await collector.wait(for: "numbat-sim ready", timeout: 600) }
        return fleet
    }

    private init(total: Int, epmdPort: Int, cookie: String, prefix: String, processes: [LineCollector], children: [Subprocess]) {
        self.total = total
        self.epmdPort = epmdPort
        self.cookie = cookie
        self.prefix = prefix
        self.processes = processes
        self.children = children
    }

    /// Node `index`'s name (the simulator's layout: 50 nodes per address, clusters of 100).
    func name(_ index: Int) -> String {
        let host = index / 50
        return "\(prefix)\(index)@127.77.\(host / 250).\(host % 250 + 1)"
    }

    /// The first node of each cluster of 100 among the first `count`.
    func seeds(_ count: Int) -> [String] { stride(from: 0, to: count, by: 100).map { name($0) } }

    /// The latest census of every process, summed.
    var census: Census {
        var sum = Census()
        for process in processes {
            guard let line = process.text.split(separator: "\n").last(where: { $0.hasPrefix("numbat-sim census:") }) else { continue }
            for field in line.split(separator: " ") {
                let pair = field.split(separator: "=")
                guard pair.count == 2, let value = Int(pair[1]) else { continue }
                switch pair[0] {
                case "connected": sum.connected += value
                case "metrics_agents": sum.metricsAgents += value
                case "metrics_running": sum.metricsRunning += value
                case "log_agents": sum.logAgents += value
                default: break
                }
            }
        }
        return sum
    }

    /// Waits until `condition` holds of the census (checked every 100 ms); returns the seconds it
    /// took. Gives up after `limit` seconds, or after 300 s without any change.
    /// Waits until the census meets `condition`; with `reportEvery`, prints the census that often
    /// meanwhile (to follow a long wait, as a recovery after a kill).
    func wait(upTo limit: Double, _ what: String, reportEvery: Duration? = nil, until condition: (Census) -> Bool) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var last = census
        var changed = start
        var reported = start
        while !condition(census) {
            let now = census
            if now != last { (last, changed) = (now, clock.now) }
            if let reportEvery, clock.now - reported >= reportEvery {
                reported = clock.now
                progress("  \(what): after \(String(format: "%.0f", seconds(clock.now - start))) s, \(now.connected) connected, \(now.metricsAgents) with the metrics agent (\(now.metricsRunning) answering collect)")
            }
            guard clock.now - start < .seconds(limit), clock.now - changed < .seconds(300) else {
                throw BenchFailure(description: "\(what) not reached in \(seconds(clock.now - start)) s: \(now)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// The simulator processes' own CPU seconds.
    var cpuSeconds: Double { children.reduce(0) { $0 + ProcessSample.cpuSeconds($1.processIdentifier) } }

    func stop() {
        for child in children where child.isRunning {
            child.terminate()
            if waitForExit(child, timeout: 10) == nil { kill(child.processIdentifier, SIGKILL); _ = waitForExit(child) }
        }
    }
}
