import ArgumentParser
import ErlangDist
import ErlangTerm
import Foundation
import NumbatTestSupport

extension OTPRelease: ExpressibleByArgument {}
extension CallKind: ExpressibleByArgument {}

/// Which halves of each comparison to run; `swift` alone is handy under a profiler.
enum Sides: String, CaseIterable, ExpressibleByArgument, Sendable {
    case both, swift, erlang
    var swift: Bool { self != .erlang }
    var erlang: Bool { self != .swift }
}

/// How the codec file writes atoms: UTF-8 (minor_version 2: the distribution's encoding and
/// term_to_binary/1's on OTP 26+) or Latin-1 (minor_version 1: term_to_binary/1 on OTP 25).
enum AtomEncoding: String, CaseIterable, ExpressibleByArgument, Sendable {
    case utf8, latin1
    var minorVersion: Int { self == .utf8 ? 2 : 1 }
}

/// For profiling one codec direction alone (hidden option).
enum CodecDirection: String, CaseIterable, ExpressibleByArgument, Sendable {
    case both, encode, decode
    case flatDecode = "flat-decode"
}

enum Benchmark: String, CaseIterable, ExpressibleByArgument, Sendable {
    case rpc, send, codec
    /// `numbat serve` per managed node (not in the default set: it starts up to hundreds of nodes).
    case server
    /// The metric history alone, with simulated time: ingest, bytes per sample, queries.
    case metricsStore = "metrics-store"
    /// One collection of one real node, `numbat serve` against an Erlang hidden node.
    case metricsCycle = "metrics-cycle"
    /// Prometheus remote write (encoding, and into real VictoriaMetrics and Prometheus) against the own store.
    case remoteWrite = "remote-write"
    /// The notification store alone: ingest rate, latest-100 reads as it grows.
    case notificationsStore = "notifications-store"
    /// logger:error on a node to `numbat logs --follow`, against a plain distribution message.
    case notificationLatency = "notification-latency"
    /// An alarm set on a node to a webhook receiving its alert (alert routing).
    case alertLatency = "alert-latency"
    /// Deployment onto namespace hosts (needs root, sshd, rebar3), against booting without Numbat.
    case deploy
    /// The latencies the tests only wait for: add -> UP, kill -> DOWN, rpc timeout, wrong-cookie
    /// error, frozen peer -> nodedown.
    case timings
    /// Is `numbat-sim` faithful: Numbat's CPU and memory per real node vs per simulated node.
    case simulator
    /// 1,000 to 10,000 simulated nodes on SQLite and PostgreSQL, and a two-server failover.
    case scale
}

/// `numbat-bench`: starts its own OTP nodes and measures, side by side, Numbat's Swift
/// distribution layer and codec against the BEAM doing the same work.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "numbat-bench",
        abstract: "Swift-vs-Erlang benchmarks: rpc round trips, one-way messages, ETF codec.",
        discussion: """
            Starts a target node and an Erlang hidden driver node of --release (same cookie), \
            plus one node per codec release, and stops them all when done (also on Ctrl-C). \
            Build with `swift build -c release --product numbat-bench`; see docs/benchmarks.md.
            """)

    @Option(help: "OTP release of the target node and of the Erlang hidden driver node (25 or 28).")
    var release: OTPRelease = .otp25

    @Option(help: "Seconds per measurement (rpc and send); ignored by rpc when --calls is given.")
    var seconds: Double = 3

    @Option(help: "Warm-up seconds before each rpc measurement.")
    var warmup: Double = 1

    @Option(help: "A fixed number of rpc calls per measurement, instead of --seconds.")
    var calls: Int?

    @Option(help: "Callers in flight in the concurrent rpc variant.")
    var concurrency: Int = 16

    @Option(help: "The rpc made: node (erlang:node()) or reverse (lists:reverse([1,2,3])).")
    var call: CallKind = .node

    @Option(help: "One-way messages per run (default: as many as take about --seconds, from a warm-up run).")
    var messages: Int?

    @Option(help: "Bytes of the binary in each one-way message {bench, I, Payload}.")
    var payloadBytes: Int = 16

    @Option(help: "Seconds per codec loop (each shape, each direction, each side).")
    var codecSeconds: Double = 1

    @Option(help: "Atom encoding of the codec terms: utf8 (minor_version 2, as distribution sends) or latin1 (OTP 25's term_to_binary/1).")
    var codecAtoms: AtomEncoding = .utf8

    @Option(parsing: .upToNextOption, help: "OTP releases to run the Erlang codec loops on (default: every installed one).")
    var codecRelease: [OTPRelease] = []

    @Option(help: "Before each measurement, wait up to this many seconds for the machine to be 80% idle (0: never wait).")
    var idleWait: Double = 0

    @Flag(help: "Experiment: make NIO's event loops Swift concurrency's global executor (no pool <-> loop hops).")
    var nioExecutor = false

    @Option(help: "rpc and send: microseconds the Swift side's rpc caller keeps a CPU awake for a quick reply (the server's default, 200; 0: never).")
    var busyWait: Int = 200

    @Option(parsing: .upToNextOption, help: "rpc and send: extra erl arguments for the Erlang hidden driver node (for example +sbwt very_long, the BEAM's longer busy wait).")
    var driverArgs: [String] = []

    @Option(help: .hidden)
    var codecDirection: CodecDirection = .both

    @Option(help: "The codec's term file: written there by an OTP node when missing; when present and --sides swift, read without starting any node (for callgrind).")
    var codecFile: String?

    @Option(parsing: .upToNextOption, help: "Codec shapes to run (default: all of the file).")
    var codecShape: [String] = []

    @Option(help: "Instead of timed codec loops, exactly this many iterations of each shape and direction (for instruction counts: scripts/callgrind-codec.sh).")
    var codecCount: Int?

    @Option(help: "Repetitions of each measurement (rpc, send, codec), alternating the sides; the median is reported.")
    var runs: Int = 1

    @Option(parsing: .upToNextOption, help: "Benchmarks to run: rpc send codec (default: all).")
    var only: [Benchmark] = [.rpc, .send, .codec]

    @Option(parsing: .upToNextOption, help: "Managed node counts for the server benchmark.")
    var serverNodes: [Int] = [10, 50, 200]

    @Option(help: "Seconds of the idle window in which the server benchmark measures CPU and memory.")
    var idleSeconds: Double = 20

    @Option(help: "metrics-store: simulated nodes.")
    var storeNodes: Int = 1000

    @Option(help: "metrics-store: simulated hours of one-minute collections.")
    var storeHours: Double = 3

    @Option(help: "metrics-store: nodes collected for 8 simulated days, for the one-week query.")
    var weekNodes: Int = 10

    @Option(help: "metrics-store: minutes of the one-row-per-sample reference.")
    var referenceMinutes: Int = 10

    @Option(parsing: .upToNextOption, help: "notifications-store: stored notifications at which reads are measured.")
    var notificationSizes: [Int] = [1_000, 1_000_000, 10_000_000]

    @Option(help: "notification-latency: events timed on each path.")
    var latencyEvents: Int = 200

    @Option(help: "alert-latency: alarms timed.")
    var alertAlarms: Int = 200

    @Option(help: "remote-write: simulated nodes.")
    var remoteWriteNodes: Int = 1000

    @Option(help: "remote-write: one-minute collections of each node (timestamps ending now).")
    var remoteWriteMinutes: Int = 30

    @Option(help: "remote-write: samples per request.")
    var remoteWriteBatch: Int = 2000

    @Option(help: "metrics-cycle: real OTP nodes collected every second.")
    var cycleNodes: Int = 20

    @Option(parsing: .upToNextOption, help: "deploy: node counts.")
    var deploySizes: [Int] = [10, 50]

    @Option(parsing: .upToNextOption, help: "deploy: concurrency limits (numbat serve --deploy-concurrency).")
    var deployConcurrency: [Int] = [4, 16]

    @Option(help: "deploy: namespace hosts the nodes are spread over.")
    var deployHosts: Int = 5

    @Option(help: "timings: samples of each latency.")
    var timingSamples: Int = 10

    @Option(help: "timings: net_ticktime (seconds) of the frozen-peer measurement, on both sides.")
    var tickSeconds: Int = 2

    @Option(help: "simulator: real and simulated nodes compared.")
    var simulatorNodes: Int = 50

    @Option(help: "simulator: seconds between metric collections (numbat serve --metrics-interval).")
    var simulatorInterval: Int = 5

    @Option(help: "simulator: seconds of the measuring window.")
    var simulatorWindow: Double = 60

    @Option(parsing: .upToNextOption, help: "scale: simulated node counts.")
    var scaleSizes: [Int] = [1_000, 5_000, 10_000]

    @Option(parsing: .upToNextOption, help: "scale: stores, sqlite and/or postgres.")
    var scaleStores: [String] = ["sqlite", "postgres"]

    @Option(help: "scale: seconds of the measuring window (whole 60 s metric cycles).")
    var scaleWindow: Double = 120

    @Option(help: "scale: nodes shared by two servers on PostgreSQL, one killed (0: skip).")
    var failoverNodes: Int = 10_000

    @Option(help: "scale: log events per simulated node per minute.")
    var scaleLogsPerMinute: Double = 1

    @Option(help: "scale: SASL alarms per simulated node per hour.")
    var scaleAlarmsPerHour: Double = 0.5

    @Option(help: "Run both sides, or only the swift or erlang half (for profiling).")
    var sides: Sides = .both

    func validate() throws {
        guard seconds > 0, warmup >= 0, codecSeconds > 0 else { throw ValidationError("times must be positive") }
        guard timingSamples >= 1, tickSeconds >= 1 else { throw ValidationError("--timing-samples and --tick-seconds must be at least 1") }
        guard concurrency >= 1, runs >= 1, payloadBytes >= 0 else { throw ValidationError("--concurrency and --runs must be at least 1") }
        if let calls, calls < concurrency { throw ValidationError("--calls must be at least --concurrency") }
        if let messages, messages < 1 { throw ValidationError("--messages must be positive") }
        guard release.isInstalled else { throw ValidationError("\(release) is not installed here (\(release.erl))") }
        for codec in codecRelease where !codec.isInstalled {
            throw ValidationError("\(codec) is not installed here (\(codec.erl))")
        }
    }

    func run() async throws {
        NodeReaper.shared.installSignalHandlers()
        if nioExecutor { progress("Swift concurrency runs on NIO's event loop threads (--nio-executor)") }
        out("# numbat-bench")
        out("")
        out("- date: \(ISO8601DateFormatter().string(from: Date()))")
        out("- machine: \(MachineInfo.cores) cores, \(MachineInfo.cpuModel)")
        out("- Swift build: \(MachineInfo.buildConfiguration)\(nioExecutor ? "; global executor: NIO event loops (--nio-executor)" : "")")
        out("- load average at start: \(MachineLoad.loadAverage)")
        // The binaries the server and simulator measurements start: `swift build --product`
        // builds only the last product it is given, so a stale one would be measured silently.
        for name in ["numbat-bench", "numbat", "numbat-sim"] {
            let path = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
            let built = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date).map { $0.ISO8601Format() } ?? "missing"
            out("- \(name) built: \(built)")
        }
        out("- target and Erlang driver nodes: \(release) (\(release.erl))")
        out("- options: --seconds \(seconds) --warmup \(warmup)\(calls.map { " --calls \($0)" } ?? "") --concurrency \(concurrency) --call \(call.rawValue) --payload-bytes \(payloadBytes) --codec-seconds \(codecSeconds) --codec-atoms \(codecAtoms.rawValue) --runs \(runs) --idle-wait \(idleWait) --busy-wait \(busyWait)\(nioExecutor ? " --nio-executor" : "")\(driverArgs.isEmpty ? "" : " --driver-args " + driverArgs.joined(separator: " "))")
        out("")
        var summary = Summary()
        do {
            if only.contains(.rpc) || only.contains(.send) {
                try await runDistribution(&summary)
            }
            if only.contains(.codec) {
                try await runCodec(&summary)
            }
            if only.contains(.server) {
                try await runServer()
            }
            if only.contains(.metricsStore) {
                try await runMetricsStore()
            }
            if only.contains(.metricsCycle) {
                try await runMetricsCycle()
            }
            if only.contains(.remoteWrite) {
                try await runRemoteWrite()
            }
            if only.contains(.notificationsStore) {
                try await runNotificationsStore()
            }
            if only.contains(.notificationLatency) {
                try await runNotificationLatency()
            }
            if only.contains(.alertLatency) {
                try await runAlertLatency()
            }
            if only.contains(.deploy) {
                try await runDeploy()
            }
            if only.contains(.timings) {
                try await runTimings()
            }
            if only.contains(.simulator) {
                try await runSimulator()
            }
            if only.contains(.scale) {
                try await runScale()
            }
        } catch {
            NodeReaper.shared.stopAll()
            throw error
        }
        NodeReaper.shared.stopAll()
        summary.print()
        out("Load average at the end: \(MachineLoad.loadAverage)\(busyMeasurements.withLockedValue({ $0 }) > 0 ? "; \(busyMeasurements.withLockedValue { $0 }) measurement(s) started on a busy machine" : "").")
    }

    // MARK: - numbat serve per managed node

    private func runServer() async throws {
        let rows = try await ServerBench(sizes: serverNodes, idleSeconds: idleSeconds, release: release).run()
        out("## numbat serve per managed node, beside an Erlang hidden node holding the same connections")
        out("")
        var table = Table(["nodes", "numbat RSS MB", "numbat KB/node", "numbat idle CPU %", "restart -> all UP s",
                           "Erlang RSS MB", "Erlang KB/node", "Erlang idle CPU %", "Erlang connect all s", "KB/node numbat / Erlang"],
                          rightAligned: Set(0..<10))
        for row in rows {
            let numbatPerNode = (row.numbatRSS - row.numbatBaseRSS) / Double(row.nodes) / 1024
            let erlangPerNode = (row.erlangRSS - row.erlangBaseRSS) / Double(row.nodes) / 1024
            table.add(["\(row.nodes)", String(format: "%.1f", row.numbatRSS / 1_048_576), String(format: "%.0f", numbatPerNode),
                       String(format: "%.2f", row.numbatCPU), String(format: "%.2f", row.restartSeconds),
                       String(format: "%.1f", row.erlangRSS / 1_048_576), String(format: "%.0f", erlangPerNode),
                       String(format: "%.2f", row.erlangCPU), String(format: "%.2f", row.erlangConnectSeconds),
                       formatRatio(numbatPerNode / erlangPerNode)])
        }
        out(table.render())
        out("")
        out("RSS at the end of a \(idleSeconds) s idle window; KB/node = (RSS with N nodes - RSS before any) / N. Numbat runs")
        out("`numbat serve` with its defaults (metrics every 60 s, so the window may hold a collection); the Erlang")
        out("reference is `erl -hidden` pinging the same nodes in parallel and then idling. \"restart -> all UP\" is from")
        out("starting the server on the data directory of a stopped one until the API lists every node UP.")
        out("")
    }

    // MARK: - the simulator and scale

    private func runSimulator() async throws {
        let result = try await SimulatorBench(nodes: simulatorNodes, intervalSeconds: simulatorInterval, windowSeconds: simulatorWindow, release: release).run()
        out("## numbat-sim's fidelity: numbat serve with \(result.nodes) real \(release) nodes, then with \(result.nodes) simulated ones")
        out("")
        var table = Table(["nodes", "CPU % (one core)", "CPU % per node", "RSS MB", "KB/node", "add -> all UP s"], rightAligned: Set(1..<6))
        let n = Double(result.nodes)
        for (label, side) in [("real", result.real), ("simulated", result.simulated)] {
            table.add([label, String(format: "%.2f", side.cpuPercent), String(format: "%.4f", side.cpuPercent / n),
                       String(format: "%.1f", side.rss / 1_048_576), String(format: "%.0f", (side.rss - side.baseRSS) / n / 1024),
                       String(format: "%.2f", side.upSeconds)])
        }
        out(table.render())
        let cpuRatio = result.simulated.cpuPercent / result.real.cpuPercent
        let memoryRatio = (result.simulated.rss - result.simulated.baseRSS) / (result.real.rss - result.real.baseRSS)
        out("Simulated / real: CPU per node \(formatRatio(cpuRatio)), memory per node \(formatRatio(memoryRatio)) (the bar: 0.75x-1.25x; \(abs(cpuRatio - 1) <= 0.25 && abs(memoryRatio - 1) <= 0.25 ? "met" : "NOT met")).")
        out("Metrics every \(simulatorInterval) s; CPU over a \(simulatorWindow) s window after two cycles of warm-up; KB/node = (RSS - RSS before any node) / N.")
        out("The simulated nodes answer from a profile recorded (numbat-sim record) on one of the real nodes in this run.")
        out("")
    }

    private func runScale() async throws {
        let result = try await ScaleBench(sizes: scaleSizes, stores: scaleStores, windowSeconds: scaleWindow, failoverNodes: failoverNodes,
                                          logsPerMinute: scaleLogsPerMinute, alarmsPerHour: scaleAlarmsPerHour).run()
        out("## One numbat serve and N simulated nodes (numbat-sim), metrics every 60 s")
        out("")
        var table = Table(["store", "nodes", "CPU % (one core)", "RSS MB", "KB/node", "server start -> all UP s", "adding (discovery) s", "simulator CPU %"],
                          rightAligned: Set(1..<8))
        for row in result.rows {
            table.add([row.store, grouped(row.nodes), String(format: "%.1f", row.cpuPercent), String(format: "%.0f", row.rss / 1_048_576),
                       String(format: "%.0f", (row.rss - row.baseRSS) / Double(row.nodes) / 1024), String(format: "%.1f", row.startToUpSeconds),
                       String(format: "%.0f", row.addSeconds), String(format: "%.1f", row.simulatorCPUPercent)])
        }
        out(table.render())
        for store in Set(result.rows.map(\.store)).sorted() {
            let rows = result.rows.filter { $0.store == store }.sorted { $0.nodes < $1.nodes }
            guard let first = rows.first, let last = rows.last, last.nodes > first.nodes else { continue }
            out("\(store): from \(grouped(first.nodes)) to \(grouped(last.nodes)) nodes (\(formatRatio(Double(last.nodes) / Double(first.nodes)))): CPU \(formatRatio(last.cpuPercent / first.cpuPercent)), "
                + "RSS above base \(formatRatio((last.rss - last.baseRSS) / (first.rss - first.baseRSS))), start -> all UP \(formatRatio(last.startToUpSeconds / first.startToUpSeconds)).")
        }
        out("CPU over a \(scaleWindow) s window after one 60 s cycle of warm-up; \"all UP\" is when the simulator sees every node")
        out("connected and running the metrics agent. Simulated traffic: \(scaleLogsPerMinute) log events per node per minute, \(scaleAlarmsPerHour) SASL alarms per node per hour.")
        out("PostgreSQL 15 runs locally with fsync off (the tests' server).")
        out("")
        if let failover = result.failover {
            out("## Two numbat serve on one PostgreSQL, \(grouped(failover.nodes)) simulated nodes, one killed with SIGKILL")
            out("")
            out("Shares before the kill: \(failover.split.map(grouped).joined(separator: " + ")). After the kill, every node was connected to the")
            out("survivor again after \(String(format: "%.1f", failover.secondsToAllConnected)) s (target: UP within 15 s; this includes the 6 s lease running out), and running its")
            out("agents again after \(String(format: "%.1f", failover.secondsToAllAgents)) s; the survivor's API then listed \(grouped(failover.survivorUp)) UP.")
            out("")
        }
    }

    // MARK: - notifications

    private func runNotificationsStore() async throws {
        let rows = try await NotificationsStoreBench(sizes: notificationSizes).run()
        out("## Notification store: ingest in batches of 500, and the latest 100 as it grows")
        out("")
        var table = Table(["stored", "ingest (events/s)", "latest 100 (ms)", "latest 100 of a node, error (ms)", "reference: latest 100 by time (ms)", "reference / latest", "file"],
                          rightAligned: Set(0..<7))
        for row in rows {
            table.add([grouped(row.stored), formatRate(row.ingestRate), String(format: "%.3f", row.latestMs), String(format: "%.3f", row.filteredMs),
                       String(format: "%.3f", row.referenceMs), formatRatio(row.referenceMs / row.latestMs), String(format: "%.0f MB", Double(row.fileBytes) / 1e6)])
        }
        out(table.render())
        if let first = rows.first, let last = rows.last {
            out("Latest 100 at \(grouped(last.stored)) vs at \(grouped(first.stored)): \(formatRatio(last.latestMs / first.latestMs)) (flat is 1.00x).")
        }
        out("")
    }

    private func runNotificationLatency() async throws {
        let (numbat, reference) = try await NotificationLatencyBench(events: latencyEvents).run()
        func percentile(_ values: [Double], _ p: Double) -> Double { values.sorted()[min(values.count - 1, Int(Double(values.count) * p))] }
        out("## Notification latency: logger:error on an OTP 25 node to `numbat logs --follow` (\(numbat.count) events, 150 ms apart)")
        out("")
        var table = Table(["path", "p50 (ms)", "p99 (ms)", "max (ms)"], rightAligned: [1, 2, 3])
        table.add(["Numbat: handler, agent, server, store, WebSocket, CLI", String(format: "%.2f", percentile(numbat, 0.5)),
                   String(format: "%.2f", percentile(numbat, 0.99)), String(format: "%.2f", numbat.max() ?? 0)])
        table.add(["reference: one message from the node to the bench's node", String(format: "%.2f", percentile(reference, 0.5)),
                   String(format: "%.2f", percentile(reference, 0.99)), String(format: "%.2f", reference.max() ?? 0)])
        out(table.render())
        out("Numbat / reference at p50: \(formatRatio(percentile(numbat, 0.5) / percentile(reference, 0.5))).")
        out("")
    }

    private func runAlertLatency() async throws {
        let latencies = try await AlertLatencyBench(alarms: alertAlarms).run()
        func percentile(_ values: [Double], _ p: Double) -> Double { values.sorted()[min(values.count - 1, Int(Double(values.count) * p))] }
        out("## Alert latency: an alarm set on an OTP 25 node to its signed webhook arriving (\(latencies.count) alarms, 100 ms apart)")
        out("")
        var table = Table(["path", "p50 (ms)", "p99 (ms)", "max (ms)"], rightAligned: [1, 2, 3])
        table.add(["alarm_handler, agent, alarms service, store, alert queue, HTTP POST", String(format: "%.2f", percentile(latencies, 0.5)),
                   String(format: "%.2f", percentile(latencies, 0.99)), String(format: "%.2f", latencies.max() ?? 0)])
        out(table.render())
        out("")
    }

    private func runTimings() async throws {
        let figures = try await TimingsBench(release: release, samples: timingSamples, tickSeconds: tickSeconds).run()
        out("## Timings the tests wait for without bounding them (\(release), \(timingSamples) samples each)")
        out("")
        var table = Table(["event", "median (ms)", "p90 (ms)", "max (ms)", "the tests' former bound"], rightAligned: [1, 2, 3])
        for figure in figures {
            let sorted = figure.milliseconds.sorted()
            // Nearest rank: the smallest sample at or above 90% of them.
            let p90 = sorted.isEmpty ? 0 : sorted[max(0, Int((Double(sorted.count) * 0.9).rounded(.up)) - 1)]
            table.add([figure.name, String(format: "%.1f", median(sorted)), String(format: "%.1f", p90),
                       String(format: "%.1f", sorted.last ?? 0), figure.formerBound])
        }
        out(table.render())
        out("")
        out("Each figure measured by itself, not beside a test run: the tests (which share the machine with every")
        out("other suite) wait for these events with bounds of 30-60 s and leave the latency to this table.")
        out("")
    }

    private func runDeploy() async throws {
        let rows = try await DeployBench(sizes: deploySizes, concurrencies: deployConcurrency, hostCount: deployHosts).run()
        out("## Deployment: request to all nodes UP and bootstrapped, on \(deployHosts) namespace hosts with their own sshd (demo release)")
        out("")
        var table = Table(["nodes", "concurrency", "numbat deploy (s)", "nodes/s", "delete all (s)", "reference boot (s)", "numbat / reference"], rightAligned: Set(0..<7))
        for row in rows {
            table.add(["\(row.nodes)", "\(row.concurrency)", String(format: "%.1f", row.numbatSeconds), String(format: "%.2f", Double(row.nodes) / row.numbatSeconds),
                       String(format: "%.1f", row.deleteSeconds), String(format: "%.1f", row.referenceSeconds), formatRatio(row.numbatSeconds / row.referenceSeconds)])
        }
        out(table.render())
        out("The reference boots the same release on the same hosts without Numbat (unpack, vm.args, start; C at a time, no SSH), until each answers a ping.")
        out("")
    }

    // MARK: - metrics

    private func runMetricsStore() async throws {
        let bench = MetricsStoreBench(nodes: storeNodes, hours: storeHours, weekNodes: weekNodes, referenceMinutes: referenceMinutes)
        let report = try await bench.run()
        let rate = Double(report.samples) / report.ingestSeconds
        let referenceRate = Double(report.referenceSamples) / report.referenceSeconds
        let cycles = Double(report.nodes * report.minutes)
        out("## Metric history: \(report.nodes) simulated nodes x \(report.minutes) one-minute collections (93 metrics each)")
        out("")
        var table = Table(["storage", "samples", "samples/s", "CPU µs / node-cycle", "bytes / stored sample"], rightAligned: Set(1..<5))
        let totalPoints = Double(max(1, report.tiers.reduce(0) { $0 + $1.points }))
        let dataBytes = Double(report.tiers.reduce(0) { $0 + $1.bytes })
        let perSample = String(format: "%.2f (file: %.2f)", dataBytes / totalPoints, Double(report.fileBytes) / totalPoints)
        let cpuPerCycle = String(format: "%.1f", report.ingestCPUSeconds / cycles * 1e6)
        table.add(["Numbat archive (blocks, roll-ups)", grouped(report.samples), formatRate(rate), cpuPerCycle, perSample])
        table.add(["reference: one SQLite row per sample", grouped(report.referenceSamples), formatRate(referenceRate), "-",
                   String(format: "%.2f (file)", Double(report.referenceFileBytes) / Double(report.referenceSamples))])
        out(table.render())
        out("")
        out("- ingest: Numbat / reference = \(formatRatio(rate / referenceRate)) samples/s; wall \(String(format: "%.1f", report.ingestSeconds)) s, CPU \(String(format: "%.1f", report.ingestCPUSeconds)) s")
        out("- memory: RSS grew \(String(format: "%.1f", report.rssGrowth / 1_048_576)) MB over the run (\(String(format: "%.1f", report.rssGrowth / Double(report.nodes) / 1024)) KB per node: open blocks and roll-up buckets)")
        for tier in report.tiers {
            let name = ["raw (kept 1 h)", "5-minute roll-ups (kept 1 day)", "15-minute roll-ups (kept 1 week)"][tier.tier]
            out("- tier \(name): \(grouped(tier.points)) points in \(grouped(tier.bytes)) bytes = \(String(format: "%.2f", Double(tier.bytes) / Double(max(tier.points, 1)))) bytes/point")
        }
        out("- query, one metric of one node over one week (\(report.weekPoints) 15-minute points): \(String(format: "%.2f", report.weekQueryMs)) ms (median of 20)")
        out("- query, one metric of a family of \(report.nodes) nodes, last hour raw (\(grouped(report.familyHourPoints)) points): \(String(format: "%.1f", report.familyHourMs)) ms; last day 5-minute (\(grouped(report.familyDayPoints)) points): \(String(format: "%.1f", report.familyDayMs)) ms (medians of 5)")
        let perCore = report.ingestCPUSeconds / cycles * (10_000.0 / 60.0)
        out("- storage share of 10,000 nodes at 60 s cycles: \(String(format: "%.1f", perCore * 100)) % of one core")
        out("")
    }

    private func runMetricsCycle() async throws {
        let report = try await MetricsCycleBench(nodes: cycleNodes, seconds: idleSeconds, release: release).run()
        let numbat = report.numbatCPU.total / Double(max(report.numbatCycles, 1)) * 1e6
        let erlang = report.erlangCPU.total / Double(max(report.erlangCycles, 1)) * 1e6
        out("## One collection of one node: \(report.nodes) real \(release) nodes collected every second for \(report.seconds) s")
        out("")
        var table = Table(["collector", "collections", "CPU s", "CPU µs / node-cycle", "of it user / system µs", "reply bytes / node-cycle"],
                          rightAligned: Set(1..<6))
        func row(_ name: String, _ cycles: Int, _ cpu: CPUTime, _ perCycle: Double) -> [String] {
            let split = "\(String(format: "%.0f", cpu.user / Double(max(cycles, 1)) * 1e6)) / \(String(format: "%.0f", cpu.system / Double(max(cycles, 1)) * 1e6))"
            return [name, "\(cycles)", String(format: "%.2f", cpu.total), String(format: "%.0f", perCycle), split, "\(report.replyBytes)"]
        }
        table.add(row("numbat serve (agent call, decode, store)", report.numbatCycles, report.numbatCPU, numbat))
        table.add(row("Erlang hidden node (rpc:call of the same agent)", report.erlangCycles, report.erlangCPU, erlang))
        out(table.render())
        out("")
        out("- CPU per node-cycle: numbat / Erlang = \(formatRatio(numbat / erlang))")
        let share = numbat * 1e-6 * 10_000 / 60
        out("- 10,000 nodes at 60 s cycles at this cost: \(String(format: "%.0f", share * 100)) % of one core (target: 50 %) \(share <= 0.5 ? "MET" : "SHORT")")
        out("")
    }

    // MARK: - rpc and one-way messages

    private func runDistribution(_ summary: inout Summary) async throws {
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        let tag = "\(getpid())"
        progress("starting target node and Erlang hidden driver node (\(release))")
        let target = try await startNode(release, cookie: cookie, alive: "nb_target_\(tag)")
        let driver = try await startNode(release, cookie: cookie, hidden: true, alive: "nb_driver_\(tag)", extraArgs: driverArgs)
        var configuration = LocalNode.Configuration(name: "nb_swift_\(tag)", cookie: cookie)
        configuration.longHost = "127.0.0.1"
        configuration.busyWait = .microseconds(busyWait)
        let local = try LocalNode(configuration)
        _ = try await local.rpc(target.name, "erlang", "node")
        // The driver connects to the target (hidden, as a hidden node does) before any timing.
        let pong = try await local.rpc(driver.name, "net_adm", "ping", [.atom(target.name.atom)])
        guard pong == .atom("pong") else { throw BenchError.unexpected("the driver node cannot reach the target: \(pong)") }
        let hidden = try await local.rpc(target.name, "erlang", "nodes", [.atom("hidden")])
        progress("target \(target.name) sees hidden nodes \(hidden)")

        if only.contains(.rpc) {
            try await runRPC(local, target: target.name, driver: driver.name, driverPID: driver.osPid, &summary)
        }
        if only.contains(.send) {
            try await runSend(local, target: target.name, driver: driver.name, &summary)
        }
        await local.shutdown()
        await NodeReaper.shared.stop(driver)
        await NodeReaper.shared.stop(target)
    }

    private func runRPC(_ local: LocalNode, target: NodeName, driver: NodeName, driverPID: Int32, _ summary: inout Summary) async throws {
        let limit: Limit = calls.map { .calls($0) } ?? .seconds(seconds)
        let warmupLimit: Limit = calls.map { .calls(max(concurrency, $0 / 10)) } ?? .seconds(warmup)
        var table = Table(["rpc \(call.display)", "callers", "calls/s", "µs/call", "caller CPU µs/call", "Swift / this", "each run, calls/s"],
                          rightAligned: [1, 2, 3, 4, 5, 6])
        /// The caller's CPU (user and system, every thread) per call in a measured run: the
        /// bench's own process for Swift (its LocalNode and, spinning, its `ReplySpinner`),
        /// the driver node's for Erlang.
        func cpuPerCall(_ pid: Int32, _ run: () async throws -> Throughput) async throws -> (Throughput, Double) {
            let before = ProcessSample.cpuTime(pid)
            let result = try await run()
            let cpu = ProcessSample.cpuTime(pid) - before
            return (result, result.count > 0 ? cpu.total * 1e6 / Double(result.count) : .nan)
        }
        func cpuColumn(_ values: [Double]) -> String { values.isEmpty ? "" : String(format: "%.1f", median(values)) }
        for callers in Array(Set([1, concurrency])).sorted() {
            var swiftRuns: [Throughput] = []
            var erlangRuns: [ErlangRPCVariant: [Throughput]] = [:]
            var swiftCPU: [Double] = []
            var erlangCPU: [ErlangRPCVariant: [Double]] = [:]
            for run in 1...runs {
                if sides.swift {
                    await settle()
                    progress("rpc Swift LocalNode.rpc, \(callers) caller(s), run \(run)/\(runs)")
                    if warmup > 0 || calls != nil {
                        _ = try await RPCBench.swift(local, target: target, call: call, concurrency: callers, limit: warmupLimit)
                    }
                    let (result, cpu) = try await cpuPerCall(getpid()) {
                        try await RPCBench.swift(local, target: target, call: call, concurrency: callers, limit: limit)
                    }
                    swiftRuns.append(result)
                    swiftCPU.append(cpu)
                }
                if sides.erlang {
                    for variant in ErlangRPCVariant.allCases {
                        await settle()
                        progress("rpc \(variant.short), \(callers) caller(s), run \(run)/\(runs)")
                        if warmup > 0 || calls != nil {
                            _ = try await RPCBench.erlang(local, driver: driver, target: target, variant: variant, call: call, concurrency: callers, limit: warmupLimit)
                        }
                        let (result, cpu) = try await cpuPerCall(driverPID) {
                            try await RPCBench.erlang(local, driver: driver, target: target, variant: variant, call: call, concurrency: callers, limit: limit)
                        }
                        erlangRuns[variant, default: []].append(result)
                        erlangCPU[variant, default: []].append(cpu)
                    }
                }
            }
            let swiftRate = median(swiftRuns.map(\.rate))
            if sides.swift {
                table.add(["Swift LocalNode.rpc (rex)", "\(callers)", formatRate(swiftRate), latency(swiftRate, callers), cpuColumn(swiftCPU), "",
                           eachRun(swiftRuns.map(\.rate))])
                summary.rpc[callers, default: [:]]["swift"] = swiftRate
            }
            for variant in ErlangRPCVariant.allCases {
                guard let runs = erlangRuns[variant] else { continue }
                let rate = median(runs.map(\.rate))
                table.add([variant.short, "\(callers)", formatRate(rate), latency(rate, callers), cpuColumn(erlangCPU[variant] ?? []),
                           sides.swift ? formatRatio(swiftRate / rate) : "", eachRun(runs.map(\.rate))])
                summary.rpc[callers, default: [:]][variant.rawValue] = rate
            }
        }
        out("## Synchronous rpc to \(release) target (\(calls.map { "\($0) calls" } ?? "\(seconds) s") per measurement, median of \(runs))")
        out("")
        out(table.render())
        out("")
        out("Erlang rows run on a hidden OTP node with the same cookie, against the same target.")
        out("\"rex gen_server:call\" is the mechanism the brief names; \"rex raw\" sends exactly the two")
        out("messages Numbat sends (REG_SEND to rex, {rex, Result} back); rpc:call is erpc (spawn_request).")
        out("Caller CPU: user and system time of the calling process (the bench's own, every thread; the")
        out("driver node's) over the measured run, per call. Swift's busy wait: \(busyWait) µs (--busy-wait).")
        out("")
    }

    private func runSend(_ local: LocalNode, target: NodeName, driver: NodeName, _ summary: inout Summary) async throws {
        let payload = SendBench.payload(bytes: payloadBytes)
        try await SendBench.startCounter(local, on: target)
        var count = messages ?? 0
        if messages == nil {
            // Warm-up runs that also size N: as many messages as the faster side delivers in --seconds.
            let probe = 20_000
            var fastest = 0.0
            if sides.swift {
                progress("one-way Swift warm-up, \(probe) messages")
                fastest = max(fastest, try await SendBench.swift(local, target: target, messages: probe, payload: payload).deliveredRate)
            }
            if sides.erlang {
                progress("one-way Erlang warm-up, \(probe) messages")
                fastest = max(fastest, try await SendBench.erlang(local, driver: driver, target: target, messages: probe, payload: payload).deliveredRate)
            }
            count = min(3_000_000, max(probe, Int(fastest * seconds)))
        } else {
            let probe = max(1, count / 10)
            if sides.swift { _ = try await SendBench.swift(local, target: target, messages: probe, payload: payload) }
            if sides.erlang { _ = try await SendBench.erlang(local, driver: driver, target: target, messages: probe, payload: payload) }
        }
        var swiftRuns: [SendResult] = []
        var erlangRuns: [SendResult] = []
        for run in 1...runs {
            if sides.swift {
                await settle()
                progress("one-way Swift Mailbox.send, \(count) messages, run \(run)/\(runs)")
                swiftRuns.append(try await SendBench.swift(local, target: target, messages: count, payload: payload))
            }
            if sides.erlang {
                await settle()
                progress("one-way Erlang hidden node, \(count) messages, run \(run)/\(runs)")
                erlangRuns.append(try await SendBench.erlang(local, driver: driver, target: target, messages: count, payload: payload))
            }
        }
        var table = Table(["one-way {bench, I, <<\(payloadBytes) bytes>>} to a registered process", "delivered msg/s", "sender done msg/s", "Swift / this (delivered)", "each run, delivered msg/s"], rightAligned: [1, 2, 3, 4])
        let swiftDelivered = median(swiftRuns.map(\.deliveredRate))
        if sides.swift {
            table.add(["Swift Mailbox.send(_:to:on:) (REG_SEND)", formatRate(swiftDelivered), formatRate(median(swiftRuns.map(\.senderRate))), "", eachRun(swiftRuns.map(\.deliveredRate))])
            summary.send["swift"] = swiftDelivered
        }
        if sides.erlang {
            let erlangDelivered = median(erlangRuns.map(\.deliveredRate))
            table.add(["Erlang {Name, Node} ! Msg from a hidden node", formatRate(erlangDelivered), formatRate(median(erlangRuns.map(\.senderRate))),
                       sides.swift ? formatRatio(swiftDelivered / erlangDelivered) : "", eachRun(erlangRuns.map(\.deliveredRate))])
            summary.send["erlang"] = erlangDelivered
        }
        out("## One-way messages to \(release) target (\(grouped(count)) messages per run, median of \(runs))")
        out("")
        out(table.render())
        out("")
        out("Delivered: from the first send until the counting process on the target has received all N.")
        out("")
    }

    // MARK: - codec

    private func runCodec(_ summary: inout Summary) async throws {
        let releases = (codecRelease.isEmpty ? OTPRelease.allCases.filter(\.isInstalled) : codecRelease).sorted { $0.rawValue < $1.rawValue }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        NodeReaper.shared.adoptDirectory(directory)
        let file = codecFile.map { URL(fileURLWithPath: $0) } ?? directory.appendingPathComponent("codec-terms.etf")
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        var configuration = LocalNode.Configuration(name: "nb_codec_\(getpid())", cookie: cookie)
        configuration.longHost = "127.0.0.1"
        let local = try LocalNode(configuration)

        var nodes: [(OTPRelease, TestNode)] = []
        for codecNodeRelease in releases {
            progress("starting \(codecNodeRelease) codec node")
            nodes.append((codecNodeRelease, try await startNode(codecNodeRelease, cookie: cookie, alive: "nb_codec\(codecNodeRelease.rawValue)_\(getpid())")))
        }
        guard let writer = nodes.first?.1 else { throw ValidationError("no OTP release to write the codec terms with") }
        if codecFile == nil || !FileManager.default.fileExists(atPath: file.path) {
            progress("writing the codec terms, with the server's real traffic made by Numbat's agents on \(writer.name)")
            try await CodecBench.writeTermFile(local, node: writer.name, file: file, minorVersion: codecAtoms.minorVersion)
        }
        let allRecords = try CodecBench.readRecords(file)
        let records = codecShape.isEmpty ? allRecords : allRecords.filter { codecShape.contains($0.name) }
        if let codecCount {
            for (_, node) in nodes { await NodeReaper.shared.stop(node) }
            await local.shutdown()
            try countCodec(allRecords, iterations: codecCount)
            return
        }
        let sizes = Dictionary(uniqueKeysWithValues: records.map { ($0.name, $0.bytes.count) })

        // Runs alternate the sides, so a busy spell on a shared machine hits one run, not one side.
        var erlangRuns: [OTPRelease: [[CodecResult]]] = [:]
        var swiftRuns: [[CodecResult]] = []
        for run in 1...runs {
            if sides.erlang {
                for (codecNodeRelease, node) in nodes {
                    await settle()
                    progress("codec loops on \(codecNodeRelease) (term_to_binary/binary_to_term), run \(run)/\(runs)")
                    erlangRuns[codecNodeRelease, default: []].append(
                        try await CodecBench.erlang(local, node: node.name, file: file, seconds: codecSeconds,
                                                    minorVersion: codecAtoms.minorVersion, shapes: records.count))
                }
            }
            if sides.swift {
                await settle()
                progress("codec loops in Swift (Term.encoded() / TermDecoder.decode), run \(run)/\(runs)")
                let seconds = codecSeconds, directions = codecDirection
                swiftRuns.append(try await offPool { try CodecBench.swift(records, seconds: seconds, encode: directions == .both || directions == .encode, decode: directions != .encode) })
            }
        }
        for (_, node) in nodes { await NodeReaper.shared.stop(node) }
        await local.shutdown()
        let erlangResults: [(OTPRelease, [CodecResult])] = releases.compactMap { release in
            erlangRuns[release].map { (release, CodecResult.median($0)) }
        }
        let swiftResults = swiftRuns.isEmpty ? [] : CodecResult.median(swiftRuns)
        let identical = CodecBench.identicalEncodings(records)
        let swiftByName = Dictionary(uniqueKeysWithValues: swiftResults.map { ($0.name, $0) })

        // Decoding twice: into `Term` (TermDecoder) and into one arena (FlatTerm); both against
        // the same binary_to_term loop.
        for (direction, isEncode, isFlat) in [("encode", true, false), ("decode", false, false), ("flat decode", false, true)] {
            var header = ["\(direction) shape", "ETF bytes"]
            if sides.swift { header += ["Swift terms/s", "Swift MB/s"] }
            for (release, _) in erlangResults {
                header += ["OTP \(release.rawValue) terms/s", "OTP \(release.rawValue) MB/s"]
                if sides.swift { header.append("Swift / OTP \(release.rawValue)") }
            }
            var table = Table(header, rightAligned: Set(1..<header.count))
            for record in records {
                let size = record.bytes.count
                var row = [record.name, grouped(size)]
                let swift = swiftByName[record.name]
                let swiftRate = swift.map { isEncode ? $0.encode.rate : isFlat ? $0.flatDecode.rate : $0.decode.rate } ?? 0
                if let swift {
                    let bytes = isEncode ? swift.encodeBytesPerSecond : swiftRate * Double(swift.decodedSize)
                    row += [formatRate(swiftRate), formatMB(bytes)]
                }
                for (release, results) in erlangResults {
                    guard let erlang = results.first(where: { $0.name == record.name }) else { continue }
                    let rate = isEncode ? erlang.encode.rate : erlang.decode.rate
                    let bytes = rate * Double(isEncode ? erlang.encodedSize : (sizes[record.name] ?? 0))
                    row += [formatRate(rate), formatMB(bytes)]
                    if sides.swift {
                        row.append(formatRatio(swiftRate / rate))
                        summary.codec[release, default: []].append((record.name, direction, swiftRate / rate))
                    }
                }
                table.add(row)
            }
            out("## ETF \(direction): Swift \(isEncode ? "Term.encoded()" : isFlat ? "FlatTerm(decoding:)" : "TermDecoder().decode(_:)") vs \(isEncode ? "term_to_binary(T, [{minor_version, \(codecAtoms.minorVersion)}])" : "binary_to_term/1") (\(codecSeconds) s per loop)")
            out("")
            out(table.render())
            out("")
        }
        if runs > 1 {
            func spread(_ runs: [[CodecResult]]) -> Double {
                guard let first = runs.first else { return 0 }
                var worst = 0.0
                for index in first.indices {
                    for rates in [runs.map { $0[index].encode.rate }, runs.map { $0[index].decode.rate }, runs.map { $0[index].flatDecode.rate }] {
                        let middle = median(rates)
                        if middle > 0 { worst = max(worst, (rates.max()! - rates.min()!) / middle) }
                    }
                }
                return worst
            }
            var parts: [String] = []
            if !swiftRuns.isEmpty { parts.append(String(format: "Swift %.0f%%", spread(swiftRuns) * 100)) }
            for release in releases { if let runs = erlangRuns[release] { parts.append(String(format: "OTP %@ %.0f%%", release.rawValue, spread(runs) * 100)) } }
            out("Largest run-to-run spread of one loop, (max - min) / median over \(runs) runs: \(parts.joined(separator: ", ")).")
            out("")
        }
        var sizesTable = Table(["shape", "file bytes (OTP \(releases.first?.rawValue ?? "?") term_to_binary)", "Swift encoded bytes"]
            + erlangResults.map { "OTP \($0.0.rawValue) encoded bytes" } + ["Swift bytes == file bytes"], rightAligned: Set(1..<(3 + erlangResults.count)))
        for record in records {
            let swiftSize = (try? TermDecoder().decode(record.bytes).encoded().count) ?? 0
            sizesTable.add([record.name, grouped(record.bytes.count), grouped(swiftSize)]
                + erlangResults.map { result in result.1.first { $0.name == record.name }.map { grouped($0.encodedSize) } ?? "" }
                + [identical[record.name] == true ? "yes" : "no"])
        }
        out("Every side works on the same terms: written once by OTP \(releases.first?.rawValue ?? "?")'s term_to_binary(T, [{minor_version, \(codecAtoms.minorVersion)}])")
        out("(\(codecAtoms == .utf8 ? "UTF-8 atoms, as distribution sends them" : "Latin-1 atoms, as OTP 25's term_to_binary/1 writes them")) and read by all; the Erlang encode loops use the same")
        out("option. MB/s counts the bytes each side produces (encode) or reads (decode). Swift always writes UTF-8 atoms")
        out("(SMALL_ATOM_UTF8_EXT); encodings of maps may differ from the BEAM's in key order only.")
        out("")
        out(sizesTable.render())
        out("")
    }

    /// Whether this run is only the counted codec loops over an existing term file.
    var countsCodecOnly: Bool {
        guard let codecFile, codecCount != nil, sides == .swift, only == [.codec] else { return false }
        return FileManager.default.fileExists(atPath: codecFile)
    }

    /// The counted loops over `--codec-file` (see `countsCodecOnly`).
    func countCodecFile() throws {
        guard let codecFile, let codecCount else { return }
        try countCodec(CodecBench.readRecords(URL(fileURLWithPath: codecFile)), iterations: codecCount)
    }

    /// `--codec-count`: exactly `iterations` of each selected shape and direction, untimed, for
    /// an instruction counter to read (scripts/callgrind-codec.sh).
    private func countCodec(_ all: [CodecRecord], iterations: Int) throws {
        let records = codecShape.isEmpty ? all : all.filter { codecShape.contains($0.name) }
        for record in records {
            if codecDirection == .both || codecDirection == .encode { CodecBench.countedEncode(try TermDecoder().decode(record.bytes), iterations: iterations) }
            if codecDirection == .both || codecDirection == .decode { try CodecBench.countedDecode(record, iterations: iterations) }
            if codecDirection == .both || codecDirection == .flatDecode { try CodecBench.countedFlatDecode(record, iterations: iterations) }
            progress("\(record.name): \(iterations) iterations (\(codecDirection.rawValue))")
        }
    }

    /// Called before each measurement: waits for a quiet machine if --idle-wait allows.
    private func settle() async {
        guard idleWait > 0 else { return }
        if await MachineLoad.waitUntilQuiet(idle: 0.8, limit: idleWait) < 0.8 {
            busyMeasurements.withLockedValue { $0 += 1 }
        }
    }

    /// Every run's rate, in run order, in thousands: shows how noisy the median is.
    private func eachRun(_ rates: [Double]) -> String {
        rates.map { String(format: "%.1fk", $0 / 1000) }.joined(separator: " ")
    }

    private func latency(_ rate: Double, _ callers: Int) -> String {
        rate > 0 ? String(format: "%.1f", Double(callers) * 1e6 / rate) : ""
    }
}

/// Measurements started although the machine was not quiet (with --idle-wait).
let busyMeasurements = Locked(0)

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The ratios against the targets of docs/benchmarks.md, printed last.
struct Summary {
    /// callers -> side ("swift" or an Erlang variant) -> calls/s
    var rpc: [Int: [String: Double]] = [:]
    var send: [String: Double] = [:]
    var codec: [OTPRelease: [(shape: String, direction: String, ratio: Double)]] = [:]

    func print() {
        out("## Ratios against the targets")
        out("")
        for callers in rpc.keys.sorted() {
            let rates = rpc[callers]!
            guard let swift = rates["swift"] else { continue }
            for variant in ErlangRPCVariant.allCases {
                guard let erlang = rates[variant.rawValue] else { continue }
                let ratio = swift / erlang
                let verdict = variant == .rexCall ? (ratio >= 1.2 ? "  MET (target >= 1.20x)" : "  SHORT of the 1.20x target") : ""
                out("- rpc, \(callers) caller(s): Swift / \(variant.short) = \(formatRatio(ratio))\(verdict)")
            }
        }
        if let swift = send["swift"], let erlang = send["erlang"] {
            out("- one-way messages delivered: Swift / Erlang = \(formatRatio(swift / erlang))")
        }
        for release in codec.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let entries = codec[release]!
            for direction in ["encode", "decode", "flat decode"] {
                let ratios = entries.filter { $0.direction == direction && $0.ratio > 0 }
                guard !ratios.isEmpty else { continue }
                let geomean = exp(ratios.map { log($0.ratio) }.reduce(0, +) / Double(ratios.count))
                let worst = ratios.min { $0.ratio < $1.ratio }!
                // Issue #16's targets: geometric mean >= 1.0x, no shape under 0.7x, the server's
                // real traffic (metric_reply, log_batch) >= 1.0x.
                var short: [String] = []
                if geomean < 1 { short.append("geometric mean under 1.00x") }
                short += ratios.filter { $0.ratio < 0.7 }.map { "\($0.shape) under 0.70x" }
                short += ratios.filter { CodecBench.trafficShapes.contains($0.shape) && $0.ratio < 1 }.map { "\($0.shape) under 1.00x" }
                let verdict = short.isEmpty ? "MET (mean >= 1.00x, every shape >= 0.70x, real traffic >= 1.00x)" : "SHORT: \(short.joined(separator: ", "))"
                out("- codec \(direction) vs OTP \(release.rawValue): geometric mean \(formatRatio(geomean)), worst \(formatRatio(worst.ratio)) (\(worst.shape)); \(verdict)")
            }
        }
        out("")
    }
}
