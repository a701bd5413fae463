import Foundation
import Logging
import NumbatServices
import NumbatStore
import NumbatTestSupport

/// `numbat-bench --only remote-write`: the same synthetic collections (`SyntheticNode`: the
/// catalogued metrics per node per minute) through
///
/// 1. Numbat's own store (`MetricArchive` on SQLite, flushed every simulated minute), the
///    local history every server keeps;
/// 2. remote write's encoding alone: collection to labelled samples, protobuf, snappy, no
///    network (the CPU remote write adds per sample, whatever the receiver);
/// 3. remote write end to end (`RemoteWrite`: queue, batches, HTTP POST) into a real
///    VictoriaMetrics and a real Prometheus started here, timed until every sample is
///    acknowledged; the receiver's own CPU is reported beside Numbat's.
///
/// Samples/s are wall-clock rates; CPU per 1,000 samples is this process's user+system time
/// (the receivers are other processes, measured apart).
struct RemoteWriteBench {
    var nodes: Int
    var minutes: Int
    var batchSize: Int

    struct Row {
        var name: String
        var samples: Int
        var seconds: Double
        var cpuSeconds: Double
        var receiverCPUSeconds: Double?
        var requestBytes: Int?
        var failedBatches: Int?
    }

    /// The collections, made once: (node, minute) -> values, timestamps ending now (receivers
    /// refuse samples far in the past or future).
    struct Workload {
        var ids: [UUID]
        var names: [String]
        var times: [Date]
        var values: [[[String: Double]]]
        var samples: Int
    }

    func workload() -> Workload {
        let ids = (0..<nodes).map { _ in UUID() }
        let names = (0..<nodes).map { "bench\($0)@10.0.\($0 / 250).\($0 % 250)" }
        let end = Date().addingTimeInterval(-60)
        let times = (0..<minutes).map { end.addingTimeInterval(Double($0 - minutes + 1) * 60) }
        var generators = (0..<nodes).map { SyntheticNode(seed: UInt64($0) + 1) }
        var values: [[[String: Double]]] = []
        var samples = 0
        for _ in 0..<minutes {
            let minute = (0..<nodes).map { generators[$0].next().dictionary }
            samples += minute.reduce(0) { $0 + $1.count }
            values.append(minute)
        }
        return Workload(ids: ids, names: names, times: times, values: values, samples: samples)
    }

    func run() async throws -> [Row] {
        progress("remote-write: \(nodes) nodes x \(minutes) one-minute collections")
        let work = workload()
        var rows: [Row] = []
        rows.append(try await ownStore(work))
        rows.append(encodeOnly(work))
        for kind in [RemoteWriteReceiver.Kind.victoriaMetrics, .prometheus] {
            let installed = kind == .victoriaMetrics ? Requirement.victoriaMetrics.isPresent : Requirement.prometheus.isPresent
            guard installed else {
                progress("remote-write: \(kind.rawValue) is not installed (scripts/install-test-deps.sh); skipped")
                continue
            }
            rows.append(try await RemoteWriteReceiver.with(kind) { receiver in
                NodeReaper.shared.adoptProcess(receiver.process)
                NodeReaper.shared.adoptDirectory(receiver.directory)
                return try await endToEnd(work, receiver: receiver)
            })
        }
        return rows
    }

    private func ownStore(_ work: Workload) async throws -> Row {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-remote-write-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory)
        var settings = MetricArchive.Settings()
        settings.flushInterval = .seconds(86_400)
        let clock = SimulatedClock(work.times[0])
        let archive = MetricArchive(store: store, settings: settings, logger: Logger(label: "bench"), now: { clock.now })
        try await archive.start()
        progress("remote-write: Numbat's own store")
        let cpu = ProcessSample.cpuSeconds(getpid())
        let started = monotonicNanos()
        for (minute, time) in work.times.enumerated() {
            clock.set(time)
            for index in 0..<nodes {
                try await archive.ingest(node: work.ids[index], time: time, values: work.values[minute][index])
            }
            clock.set(time.addingTimeInterval(59))
            try await archive.flush()
        }
        let seconds = Double(monotonicNanos() - started) / 1e9
        let cpuSeconds = ProcessSample.cpuSeconds(getpid()) - cpu
        await archive.stop()
        try store.close()
        return Row(name: "Numbat's own store (MetricArchive, SQLite)", samples: work.samples, seconds: seconds, cpuSeconds: cpuSeconds)
    }

    /// Labelled samples, batches of `batchSize`, protobuf and snappy: the request bodies, not sent.
    private func encodeOnly(_ work: Workload) -> Row {
        progress("remote-write: encoding alone")
        var converter = RemoteWriteSamples()
        var bytes = 0
        var pending: [RemoteWriteSample] = []
        let cpu = ProcessSample.cpuSeconds(getpid())
        let started = monotonicNanos()
        for (minute, time) in work.times.enumerated() {
            for index in 0..<nodes {
                pending += converter.samples(node: work.ids[index], name: work.names[index], family: "bench 1.0", time: time,
                                             values: work.values[minute][index])
                while pending.count >= batchSize {
                    bytes += RemoteWriteRequest.body(Array(pending.prefix(batchSize))).count
                    pending.removeFirst(batchSize)
                }
            }
        }
        if !pending.isEmpty { bytes += RemoteWriteRequest.body(pending).count }
        let seconds = Double(monotonicNanos() - started) / 1e9
        return Row(name: "remote write, encoding only (samples, protobuf, snappy)", samples: work.samples, seconds: seconds,
                   cpuSeconds: ProcessSample.cpuSeconds(getpid()) - cpu, requestBytes: bytes)
    }

    /// Every collection queued as the metrics service queues it, timed until the receiver has
    /// acknowledged every sample.
    private func endToEnd(_ work: Workload, receiver: RemoteWriteReceiver) async throws -> Row {
        progress("remote-write: into \(receiver.kind.rawValue)")
        // Room for the whole workload: this measures throughput, not the drop policy.
        let settings = RemoteWriteSettings(url: URL(string: receiver.writeURL)!,
                                           queue: .init(capacity: max(work.samples, batchSize), batchSize: batchSize, batchDelay: .milliseconds(100)))
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let remoteWrite = RemoteWrite(settings: [settings], logger: logger)
        await remoteWrite.start()
        let receiverPID = receiver.process.processIdentifier
        let receiverCPU = ProcessSample.cpuSeconds(receiverPID)
        let cpu = ProcessSample.cpuSeconds(getpid())
        let started = monotonicNanos()
        for (minute, time) in work.times.enumerated() {
            for index in 0..<nodes {
                await remoteWrite.append(node: work.ids[index], name: work.names[index], family: "bench 1.0", time: time,
                                         values: work.values[minute][index])
            }
        }
        var status = await remoteWrite.status().receivers[0]
        while status.sentSamples + status.rejectedSamples + status.droppedSamples < work.samples {
            try await Task.sleep(for: .milliseconds(5))
            status = await remoteWrite.status().receivers[0]
        }
        let seconds = Double(monotonicNanos() - started) / 1e9
        let cpuSeconds = ProcessSample.cpuSeconds(getpid()) - cpu
        let receiverSeconds = ProcessSample.cpuSeconds(receiverPID) - receiverCPU
        await remoteWrite.stop()
        if status.rejectedSamples + status.droppedSamples > 0 {
            progress("remote-write: \(receiver.kind.rawValue) refused \(status.rejectedSamples), dropped \(status.droppedSamples): \(status.lastError ?? "")")
        }
        return Row(name: "remote write into \(receiver.kind.rawValue) (HTTP, acknowledged)", samples: status.sentSamples, seconds: seconds,
                   cpuSeconds: cpuSeconds, receiverCPUSeconds: receiverSeconds, failedBatches: status.failedBatches)
    }
}

extension BenchCommand {
    func runRemoteWrite() async throws {
        let bench = RemoteWriteBench(nodes: remoteWriteNodes, minutes: remoteWriteMinutes, batchSize: remoteWriteBatch)
        let rows = try await bench.run()
        out("## Remote write: \(bench.nodes) simulated nodes x \(bench.minutes) one-minute collections, batches of \(bench.batchSize), against Numbat's own store")
        out("")
        var table = Table(["path", "samples", "samples/s", "numbat CPU ms / 1,000 samples", "receiver CPU ms / 1,000 samples", "bytes / sample on the wire"],
                          rightAligned: Set(1..<6))
        for row in rows {
            let perThousand = { (seconds: Double) in String(format: "%.2f", seconds / Double(max(row.samples, 1)) * 1e6) }
            table.add([row.name, grouped(row.samples), formatRate(Double(row.samples) / row.seconds), perThousand(row.cpuSeconds),
                       row.receiverCPUSeconds.map(perThousand) ?? "-",
                       row.requestBytes.map { String(format: "%.2f", Double($0) / Double(max(row.samples, 1))) } ?? "-"])
        }
        out(table.render())
        out("")
        if let own = rows.first {
            for row in rows.dropFirst() {
                out("- \(row.name): \(formatRatio((Double(row.samples) / row.seconds) / (Double(own.samples) / own.seconds))) the own store's samples/s, \(formatRatio((row.cpuSeconds / Double(max(row.samples, 1))) / (own.cpuSeconds / Double(max(own.samples, 1))))) its CPU per sample\(row.failedBatches.map { "; failed requests: \($0)" } ?? "")")
            }
        }
        out("")
    }
}
