import Foundation
import NumbatTestSupport

/// `numbat-bench --only simulator`: is the node simulator faithful? One `numbat serve` manages N
/// real OTP nodes, then (a fresh one) N simulated nodes answering from a profile recorded on
/// one of those real nodes in the same run; Numbat's CPU and memory per node are compared. The
/// issue's bar: within 25 %.
struct SimulatorBench {
    var nodes: Int
    var intervalSeconds: Int
    var windowSeconds: Double
    var release: OTPRelease

    struct Side {
        var cpuPercent: Double
        var baseRSS: Double
        var rss: Double
        var upSeconds: Double
    }

    func run() async throws -> (real: Side, simulated: Side, nodes: Int) {
        let cookie = "numbat-simbench-\(UInt32.random(in: 0...UInt32.max))"
        progress("simulator: starting \(nodes) real \(release) nodes")
        let real = try await startNodes(nodes, release: release, cookie: cookie, prefix: "simref\(getpid())n")
        defer { for node in real { node.stop() } }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-simbench-\(getpid()).profile")
        defer { try? FileManager.default.removeItem(at: profile) }
        let recorded = try await ChildProcess.run(binary("numbat-sim"), ["record", "--node", real[0].name.description, "--cookie", cookie, "--output", profile.path])
        guard recorded.status == 0 else { throw BenchFailure(description: "numbat-sim record failed: \(recorded.standardError)") }
        progress("simulator: numbat serve with \(nodes) real nodes")
        let realSide = try await measure(real.map(\.name.description), cookie: cookie, environment: [:])
        progress("simulator: numbat serve with \(nodes) simulated nodes")
        let fleet = try await SimulatorFleet.start(total: nodes, cookie: cookie, profile: profile, logsPerMinute: 0, alarmsPerHour: 0)
        defer { fleet.stop() }
        let simulatedSide = try await measure((0..<nodes).map { fleet.name($0) }, cookie: cookie, environment: ["ERL_EPMD_PORT": "\(fleet.epmdPort)"])
        return (realSide, simulatedSide, nodes)
    }

    /// A fresh server: RSS before any node, add them all, wait for UP, two collection cycles of
    /// warm-up, then CPU over the window and RSS at its end.
    private func measure(_ names: [String], cookie: String, environment: [String: String]) async throws -> Side {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-simbench-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServeProcess.start(directory: directory, nodeName: "numbatsimbench\(getpid())",
                                                  extraArguments: ["--metrics-interval", "\(intervalSeconds)"], environment: environment)
        defer { server.terminate() }
        try await Task.sleep(for: .seconds(2))
        let base = ProcessSample.rss(server.pid)
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, name) in names.enumerated() {
                if index >= 8 { try await group.next() }
                group.addTask { _ = try await server.post("/api/actions/add-node", ["node": name, "cookie": cookie]) }
            }
            try await group.waitForAll()
        }
        while try await server.upCount() < names.count {
            guard clock.now - start < .seconds(300) else { throw BenchFailure(description: "nodes not UP after 300 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let up = seconds(clock.now - start)
        try await Task.sleep(for: .seconds(2 * intervalSeconds))
        let cpuBefore = ProcessSample.cpuSeconds(server.pid)
        let windowStart = clock.now
        try await Task.sleep(for: .seconds(windowSeconds))
        let cpu = (ProcessSample.cpuSeconds(server.pid) - cpuBefore) / seconds(clock.now - windowStart) * 100
        return Side(cpuPercent: cpu, baseRSS: base, rss: ProcessSample.rss(server.pid), upSeconds: up)
    }
}

/// A product built beside numbat-bench.
func binary(_ name: String) -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
}
