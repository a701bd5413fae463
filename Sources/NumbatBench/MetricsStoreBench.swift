import Foundation
import GRDB
import Logging
import NIOConcurrencyHelpers
import NumbatCore
import NumbatServices
import NumbatStore
import NumbatTestSupport

/// `numbat-bench --only metrics-store`: the metric history on its own (no network): how fast it
/// takes in collections, what a stored sample costs after roll-up, and how fast it answers, with
/// simulated time (an injected clock) so hours and days pass in seconds. The reference in the
/// same run: the same samples stored the plain way, one SQLite row per sample.
///
/// The workload is synthetic but shaped like the agent's real output: the 93 catalogued metrics
/// per node per minute, with limits and scheduler counts constant, memory areas and counts on
/// random walks, counters rising at noisy rates and utilisations as full-precision fractions.
struct MetricsStoreBench {
    var nodes: Int
    var hours: Double
    var weekNodes: Int
    var referenceMinutes: Int

    struct Report {
        var nodes: Int
        var minutes: Int
        var samples: Int
        var ingestSeconds: Double
        var ingestCPUSeconds: Double
        var rssGrowth: Double
        var tiers: [(tier: Int, points: Int, bytes: Int)]
        var fileBytes: Int
        var weekQueryMs: Double
        var weekPoints: Int
        var familyHourMs: Double
        var familyHourPoints: Int
        var familyDayMs: Double
        var familyDayPoints: Int
        var referenceSamples: Int
        var referenceSeconds: Double
        var referenceFileBytes: Int
    }

    static let epoch = Date(timeIntervalSince1970: 1_796_083_200)

    func run() async throws -> Report {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-metrics-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }

        // Throughput and size: `nodes` nodes for `hours` of one-minute collections.
        let clock = SimulatedClock(Self.epoch)
        let store = try SQLiteStore(directory: directory.appendingPathComponent("numbat"))
        var settings = MetricArchive.Settings()
        settings.flushInterval = .seconds(86_400)  // flushed by the bench, once per simulated minute
        let archive = MetricArchive(store: store, settings: settings, logger: Logger(label: "bench"), now: { clock.now })
        try await archive.start()
        let ids = (0..<nodes).map { _ in UUID() }
        var generators = (0..<nodes).map { SyntheticNode(seed: UInt64($0) + 1) }
        let minutes = Int(hours * 60)
        progress("metrics-store: \(nodes) nodes x \(minutes) simulated minutes")
        let rssBefore = ProcessSample.rss(getpid())
        let cpuBefore = ProcessSample.cpuSeconds(getpid())
        let started = monotonicNanos()
        var samples = 0
        for minute in 0..<minutes {
            let time = Self.epoch.addingTimeInterval(Double(minute) * 60)
            clock.set(time)
            for index in 0..<nodes {
                let values = generators[index].next()
                samples += values.count
                try await archive.ingest(node: ids[index], time: time, values: values)
            }
            clock.set(time.addingTimeInterval(59))
            try await archive.flush()
            if minute % 60 == 59 {
                try await archive.prune()
                progress("metrics-store: \(minute + 1) of \(minutes) minutes")
            }
        }
        let ingestSeconds = Double(monotonicNanos() - started) / 1e9
        let ingestCPU = ProcessSample.cpuSeconds(getpid()) - cpuBefore
        let rssGrowth = ProcessSample.rss(getpid()) - rssBefore
        var tiers: [(Int, Int, Int)] = []
        for tier in 0..<3 {
            let blocks = try await store.metricBlocks(nodes: ids, tier: tier, from: 0, to: .max)
            tiers.append((tier, blocks.reduce(0) { $0 + $1.points }, blocks.reduce(0) { $0 + $1.data.count }))
        }

        // A family of every node: one metric over the last hour (raw) and the last day (5-minute).
        let now = clock.now
        let (familyHourMs, familyHourPoints) = try await timed(runs: 5) {
            try await archive.series(nodes: ids, metrics: ["memory_total"], from: now.addingTimeInterval(-3600), to: now)
        }
        let (familyDayMs, familyDayPoints) = try await timed(runs: 5) {
            try await archive.series(nodes: ids, metrics: ["memory_total"], from: now.addingTimeInterval(-86_400), to: now)
        }
        await archive.stop()
        try store.close()
        let fileBytes = Self.directoryBytes(directory.appendingPathComponent("numbat"))

        // One week of one metric: `weekNodes` nodes collected for 8 days, one node's week read
        // back (none: skipped, as scripts/callgrind-store.sh does to count the ingest alone).
        var (weekQueryMs, weekPoints) = (0.0, 0)
        if weekNodes > 0 {
            progress("metrics-store: \(weekNodes) nodes x 8 simulated days, for the week query")
            let weekClock = SimulatedClock(Self.epoch)
            let weekStore = try SQLiteStore(directory: directory.appendingPathComponent("week"))
            let weekArchive = MetricArchive(store: weekStore, settings: settings, logger: Logger(label: "bench"), now: { weekClock.now })
            try await weekArchive.start()
            let weekIDs = (0..<weekNodes).map { _ in UUID() }
            var weekGenerators = (0..<weekNodes).map { SyntheticNode(seed: UInt64($0) + 1000) }
            for minute in 0..<(8 * 24 * 60) {
                let time = Self.epoch.addingTimeInterval(Double(minute) * 60)
                weekClock.set(time)
                for index in 0..<weekNodes {
                    try await weekArchive.ingest(node: weekIDs[index], time: time, values: weekGenerators[index].next())
                }
                if minute % 60 == 59 {
                    try await weekArchive.flush()
                    try await weekArchive.prune()
                }
            }
            try await weekArchive.flush()
            let weekNow = weekClock.now
            (weekQueryMs, weekPoints) = try await timed(runs: 20) {
                try await weekArchive.series(nodes: [weekIDs[0]], metrics: ["memory_total"], from: weekNow.addingTimeInterval(-7 * 86_400), to: weekNow)
            }
            await weekArchive.stop()
            try weekStore.close()
        }

        // The reference: one row per sample in SQLite (WAL, one transaction per minute of collections).
        let reference = try referenceRun(directory: directory.appendingPathComponent("reference"))
        return Report(nodes: nodes, minutes: minutes, samples: samples, ingestSeconds: ingestSeconds, ingestCPUSeconds: ingestCPU,
                      rssGrowth: rssGrowth, tiers: tiers, fileBytes: fileBytes, weekQueryMs: weekQueryMs, weekPoints: weekPoints,
                      familyHourMs: familyHourMs, familyHourPoints: familyHourPoints, familyDayMs: familyDayMs,
                      familyDayPoints: familyDayPoints, referenceSamples: reference.samples, referenceSeconds: reference.seconds,
                      referenceFileBytes: reference.bytes)
    }

    /// The median time of `runs` queries, and the points the last one returned.
    private func timed(runs: Int, _ query: () async throws -> SeriesAnswer) async throws -> (Double, Int) {
        var times: [Double] = []
        var points = 0
        for _ in 0..<runs {
            let start = monotonicNanos()
            let answer = try await query()
            times.append(Double(monotonicNanos() - start) / 1e6)
            points = answer.series.reduce(0) { $0 + $1.points.count }
        }
        return (times.sorted()[times.count / 2], points)
    }

    private func referenceRun(directory: URL) throws -> (samples: Int, seconds: Double, bytes: Int) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pool = try DatabasePool(path: directory.appendingPathComponent("samples.sqlite").path)
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE sample (node BLOB NOT NULL, metric INTEGER NOT NULL, t INTEGER NOT NULL, v REAL NOT NULL,
                                     PRIMARY KEY (node, metric, t)) WITHOUT ROWID
                """)
        }
        let ids = (0..<nodes).map { _ in UUID() }
        var generators = (0..<nodes).map { SyntheticNode(seed: UInt64($0) + 1) }
        let names = MetricCatalog.builtIn.map(\.name)
        let metricIDs = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        progress("metrics-store: reference, one SQLite row per sample, \(nodes) nodes x \(referenceMinutes) minutes")
        var samples = 0
        let started = monotonicNanos()
        for minute in 0..<referenceMinutes {
            let time = Int64(Self.epoch.timeIntervalSince1970 * 1000) + Int64(minute) * 60_000
            try pool.write { db in
                let statement = try db.cachedStatement(sql: "INSERT INTO sample (node, metric, t, v) VALUES (?, ?, ?, ?)")
                for index in 0..<nodes {
                    for (name, value) in generators[index].next() {
                        try statement.execute(arguments: [ids[index], metricIDs[name] ?? -1, time, value])
                        samples += 1
                    }
                }
            }
        }
        let seconds = Double(monotonicNanos() - started) / 1e9
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        try pool.close()
        return (samples, seconds, Self.directoryBytes(directory))
    }

    static func directoryBytes(_ url: URL) -> Int {
        let files = (try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: [.fileSizeKey])) ?? []
        return files.filter { $0.lastPathComponent.contains(".sqlite") }
            .reduce(0) { $0 + ((try? $1.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) }
    }
}

/// A clock the bench sets.
final class SimulatedClock: Sendable {
    private let current: NIOLockedValueBox<Date>
    init(_ start: Date) { current = NIOLockedValueBox(start) }
    var now: Date { current.withLockedValue { $0 } }
    func set(_ date: Date) { current.withLockedValue { $0 = date } }
}

/// One simulated node's collections: the catalogued metrics, each with a behaviour like its real
/// counterpart's. Deterministic for a seed.
struct SyntheticNode {
    enum Behaviour {
        case constant(Double)
        case walk(value: Double, step: Double)
        case counter(value: Double, rate: Double)
        case fraction
    }

    private var random: SeededRandom
    private var metrics: [(name: String, behaviour: Behaviour)]
    private let layout: MetricValues.Layout

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
        var generator = SeededRandom(seed: seed ^ 0x5EED)
        metrics = MetricCatalog.builtIn.map { definition in
            let name = definition.name
            let behaviour: Behaviour
            if name.contains("limit") || name.contains("schedulers") || name.contains("processors") || name == "thread_pool_size"
                || name.hasPrefix("ports_sctp") || name.hasPrefix("mnesia") {
                behaviour = .constant(Double(generator.next(below: 1 << 20)))
            } else if definition.kind == .counter {
                behaviour = .counter(value: Double(generator.next(below: 1 << 30)), rate: Double(1_000 + generator.next(below: 5_000_000)))
            } else if definition.unit == "ratio" || name.hasPrefix("os_load") || name.hasPrefix("scheduler_utilization") {
                behaviour = .fraction
            } else if definition.unit == "bytes" || name.hasSuffix("_words") {
                behaviour = .walk(value: Double(10_000_000 + generator.next(below: 100_000_000)), step: 65_536)
            } else {
                behaviour = .walk(value: Double(100 + generator.next(below: 10_000)), step: 8)
            }
            return (name, behaviour)
        }
        layout = MetricValues.Layout(names: metrics.map(\.name))
    }

    /// One collection, named as the agent names it: the same layout every time (the server
    /// reuses a node's layout while its agent answers the same names).
    mutating func next() -> MetricValues {
        var numbers: [Double] = []
        numbers.reserveCapacity(metrics.count)
        for index in metrics.indices {
            switch metrics[index].behaviour {
            case .constant(let value):
                numbers.append(value)
            case .walk(let value, let step):
                let moved = max(0, value + (Double(random.next(below: 2001)) - 1000) / 1000 * step).rounded()
                metrics[index].behaviour = .walk(value: moved, step: step)
                numbers.append(moved)
            case .counter(let value, let rate):
                let grown = value + (rate * (0.5 + Double(random.next(below: 1000)) / 1000)).rounded()
                metrics[index].behaviour = .counter(value: grown, rate: rate)
                numbers.append(grown)
            case .fraction:
                numbers.append(Double(random.next(below: 1 << 30)) / Double(1 << 30))
            }
        }
        return MetricValues(layout: layout, numbers: numbers)
    }
}

extension SeededRandom {
    mutating func next(below bound: UInt64) -> UInt64 { next() % bound }
}
