import ArgumentParser
import ErlangDist
import Foundation
import NumbatCore
import NumbatSimulator

#if canImport(Glibc)
import Glibc
#endif

/// `numbat-sim`: a node simulator for load tests (issue 13). It is a simulator: the nodes it
/// presents speak the real distribution protocol but run no Erlang code.
@main
struct NumbatSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "numbat-sim",
        abstract: "Simulated Erlang nodes for load tests: real distribution protocol, answers recorded from a real node.",
        subcommands: [Run.self, Record.self],
        defaultSubcommand: Run.self)

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start simulated nodes and keep them up until interrupted.")

        @Option(help: "Nodes this process simulates.") var count: Int = 100
        @Option(help: "Index of the first node (split a large run over several processes).") var first: Int = 0
        @Option(help: "Nodes in the whole run, over every process (default: first + count).") var total: Int?
        @Option(help: "Cookie of every simulated node.") var cookie: String = "numbat-sim"
        @Option(help: "Port of the simulator's EPMD; give Numbat the same with ERL_EPMD_PORT.") var epmdPort: Int = 4370
        @Option(help: "Node name prefix: PREFIX<index>@127.77.X.Y.") var prefix: String = "sim"
        @Option(help: "Nodes per loopback address (per simulated host).") var nodesPerHost: Int = 50
        @Option(help: "Nodes per cluster (erlang:nodes() lists the others).") var clusterSize: Int = 100
        @Option(help: "Log events per node per minute (before the log agent's level filter).") var logsPerMinute: Double = 2
        @Option(help: "SASL alarms set per node per hour (each cleared 30-120 s later).") var alarmsPerHour: Double = 1
        @Option(help: "A profile recorded with numbat-sim record (default: the bundled OTP 25 profile).") var profile: String?
        @Option(help: "Write the node names here, one per line, once they are up.") var namesFile: String?
        @Option(help: "Seed of the log and alarm traffic.") var seed: UInt64 = 1

        func run() async throws {
            ProcessLimits.raiseOpenFiles()
            let layout = SimulatorLayout(prefix: prefix, nodesPerHost: nodesPerHost, clusterSize: clusterSize, total: total ?? first + count)
            let loaded = try profile.map { try SimulatorProfile(contentsOf: URL(fileURLWithPath: $0)) } ?? SimulatorProfile.bundled()
            var settings = Simulator.Settings(layout: layout, indices: first..<first + count, cookie: cookie, epmdPort: epmdPort, profile: loaded)
            settings.logsPerMinute = logsPerMinute
            settings.alarmsPerHour = alarmsPerHour
            settings.seed = seed
            let simulator = Simulator(settings)
            let names = try await simulator.start()
            if let namesFile {
                try names.map(\.description).joined(separator: "\n").appending("\n").write(toFile: namesFile, atomically: true, encoding: .utf8)
            }
            // Written unbuffered: whoever started the simulator waits for this line.
            let ready = "numbat-sim ready: \(names.count) simulated nodes, EPMD on port \(epmdPort), \(layout.clusterSeeds(first..<first + count).count) clusters of up to \(clusterSize)\n"
            FileHandle.standardOutput.write(Data(ready.utf8))
            let census = Task { await reportCensus(of: simulator) }
            await waitForTermination()
            census.cancel()
            await simulator.stop()
        }
    }

    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a profile (the answers simulated nodes give) from a real node.")

        @Option(help: "The real node, name@host.") var node: String
        @Option(help: "Its cookie.") var cookie: String
        @Option(help: "Where to write the profile.") var output: String

        func run() async throws {
            let profile = try await ProfileRecorder.record(try NodeName(node), cookie: cookie)
            try profile.write(to: URL(fileURLWithPath: output))
            print("recorded \(node) (OTP \(profile.otpRelease.stringValue ?? "?")) into \(output)")
        }
    }
}

/// Prints a census line whenever it changes (checked every 500 ms): how many simulated nodes have
/// a Numbat connected and run its agents. Benchmarks read it to time takeovers.
func reportCensus(of simulator: Simulator) async {
    var last: Simulator.Census?
    while !Task.isCancelled {
        let census = simulator.census
        if census != last {
            let line = "numbat-sim census: nodes=\(census.nodes) connected=\(census.connected) metrics_agents=\(census.metricsAgents) metrics_running=\(census.metricsRunning) log_agents=\(census.logAgents) alarm_agents=\(census.alarmAgents)\n"
            FileHandle.standardOutput.write(Data(line.utf8))
            last = census
        }
        try? await Task.sleep(for: .milliseconds(500))
    }
}

/// Returns on SIGINT or SIGTERM.
func waitForTermination() async {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let once = NSLock()
        var resumed = false
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler {
                once.lock()
                defer { once.unlock() }
                guard !resumed else { return }
                resumed = true
                continuation.resume()
            }
            source.resume()
            sources.append(source)
        }
        withExtendedLifetime(sources) {}
        SignalSources.keep(sources)
    }
}

/// Keeps the signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) static var kept: [any DispatchSourceSignal] = []
    static func keep(_ sources: [any DispatchSourceSignal]) { kept = sources }
}
