import Dispatch
import Foundation
import NumbatCore
import NumbatTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC; a vDSO call, cheap enough per rpc).
@inline(__always)
func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Keeps a value alive and opaque to the optimiser, so measured work cannot be removed.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// A value behind a lock (the bench declares no NIO dependency of its own).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLockedValue<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Every node the benchmark started, so that Ctrl-C or SIGTERM still stops them all.
final class NodeReaper: Sendable {
    static let shared = NodeReaper()

    private let nodes = Locked<[ObjectIdentifier: TestNode]>([:])
    private let sources = Locked<[any DispatchSourceSignal]>([])
    private let directories = Locked<[URL]>([])
    private let processes = Locked<[Subprocess]>([])

    func adopt(_ node: TestNode) {
        nodes.withLockedValue { $0[ObjectIdentifier(node)] = node }
    }

    /// Stops `node` (SIGKILL, waits for it) off the cooperative pool and forgets it.
    func stop(_ node: TestNode) async {
        await node.stopped()
        _ = nodes.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(node)) }
    }

    /// A child process (a simulator, a server) killed with the nodes on exit or Ctrl-C.
    func adoptProcess(_ process: Subprocess) {
        processes.withLockedValue { $0.append(process) }
    }

    func adoptDirectory(_ url: URL) {
        directories.withLockedValue { $0.append(url) }
    }

    func stopAll() {
        let all = nodes.withLockedValue { nodes in
            defer { nodes = [:] }
            return Array(nodes.values)
        }
        for node in all { node.stop() }
        for process in processes.withLockedValue({ $0 }) where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let directories = directories.withLockedValue { directories in
            defer { directories = [] }
            return directories
        }
        for directory in directories { try? FileManager.default.removeItem(at: directory) }
    }

    func installSignalHandlers() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("numbat-bench: interrupted, stopping the nodes it started\n".utf8))
                NodeReaper.shared.stopAll()
                exit(128 + signalNumber)
            }
            source.resume()
            sources.withLockedValue { $0.append(source) }
        }
    }
}

/// Starts a node off the cooperative pool and registers it for cleanup.
func startNode(_ release: OTPRelease, cookie: String, hidden: Bool = false, alive: String, extraArgs: [String] = []) async throws -> TestNode {
    let node = try await offPool {
        try TestNode(release: release, style: .long, cookie: cookie, alive: alive, extraArgs: (hidden ? ["-hidden"] : []) + extraArgs)
    }
    NodeReaper.shared.adopt(node)
    return node
}

/// A line of the report on stdout, written at once (unbuffered), so a redirected report is
/// complete up to the last finished section even if the run is interrupted.
func out(_ text: String = "") {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Progress on stderr, so stdout holds only the report.
func progress(_ text: String) {
    FileHandle.standardError.write(Data("  \(text)\n".utf8))
}

// MARK: - Formatting

func formatRate(_ value: Double) -> String {
    if value >= 100 { return grouped(Int(value.rounded())) }
    return String(format: "%.2f", value)
}

func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (index, character) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return value < 0 ? "-" + out : out
}

func formatMB(_ bytesPerSecond: Double) -> String {
    String(format: "%.1f", bytesPerSecond / 1_000_000)
}

func formatRatio(_ value: Double) -> String {
    guard value.isFinite else { return "n/a" }
    return String(format: "%.2fx", value)
}

/// A Markdown pipe table with padded columns (readable in a terminal, pasteable into docs).
struct Table {
    var header: [String]
    var rows: [[String]] = []
    /// Columns aligned right (numbers).
    var rightAligned: Set<Int> = []

    init(_ header: [String], rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (index, width) in widths.enumerated() {
                let cell = index < cells.count ? cells[index] : ""
                let padding = String(repeating: " ", count: width - cell.count)
                parts.append(rightAligned.contains(index) ? padding + cell : cell + padding)
            }
            return "| " + parts.joined(separator: " | ") + " |"
        }
        var lines = [line(header)]
        lines.append("|" + widths.enumerated().map { index, width in
            let dashes = String(repeating: "-", count: width)
            return rightAligned.contains(index) ? "-" + dashes + ":" : "-" + dashes + "-"
        }.joined(separator: "|") + "|")
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }
}

/// What `/proc/cpuinfo` and the system say about this machine.
enum MachineInfo {
    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }

    static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    static var buildConfiguration: String {
        #if DEBUG
        return "debug (numbers are meaningless: build with -c release)"
        #else
        return "release"
        #endif
    }
}

/// The share of CPU time the whole machine spent idle over an interval, from /proc/stat.
enum MachineLoad {
    private static func sample() -> (idle: UInt64, total: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 5 else { return nil }
        return (fields[3] + fields[4], fields.reduce(0, +))  // idle + iowait
    }

    /// Idle fraction (0...1) over `seconds`; 1 if /proc/stat is unreadable.
    static func idleFraction(over seconds: Double) -> Double {
        guard let before = sample() else { return 1 }
        usleep(UInt32(seconds * 1e6))
        guard let after = sample(), after.total > before.total else { return 1 }
        return Double(after.idle - before.idle) / Double(after.total - before.total)
    }

    static var loadAverage: String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    /// Waits (off the cooperative pool) until the machine is at least `idle` idle over a second,
    /// for at most `limit` seconds. Returns the last idle fraction seen.
    static func waitUntilQuiet(idle: Double, limit: Double) async -> Double {
        guard limit > 0 else { return 1 }
        let deadline = monotonicNanos() + UInt64(limit * 1e9)
        var waited = false
        while true {
            let fraction = (try? await offPool { idleFraction(over: 1) }) ?? 1
            if fraction >= idle { return fraction }
            if monotonicNanos() >= deadline {
                progress(String(format: "machine still busy (%.0f%% idle) after waiting %.0f s; measuring anyway", fraction * 100, limit))
                return fraction
            }
            if !waited {
                progress(String(format: "machine busy (%.0f%% idle, load %@); waiting for it to settle", fraction * 100, loadAverage))
                waited = true
            }
        }
    }
}

/// Starts `count` nodes named `prefix<offset + i>`, four at a time.
func startNodes(_ count: Int, release: OTPRelease, cookie: String, prefix: String, offset: Int = 0) async throws -> [TestNode] {
    var started: [TestNode] = []
    var next = 0
    while next < count {
        let batch = min(4, count - next)
        try await withThrowingTaskGroup(of: TestNode.self) { group in
            for index in 0..<batch {
                let alive = "\(prefix)\(offset + next + index)"
                group.addTask { try await startNode(release, cookie: cookie, alive: alive) }
            }
            for try await node in group { started.append(node) }
        }
        next += batch
    }
    return started
}

/// Seconds of a duration.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
