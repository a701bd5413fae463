import ErlangTerm
import Foundation
import NumbatCore

/// What the alarm agent's `check/2` reports about a node: the inputs of the built-in checks.
/// Anything the node could not tell (no os_mon, not Linux) is nil.
struct AlarmFacts: Sendable, Equatable {
    struct LongQueue: Sendable, Equatable {
        var pid: String
        var name: String?
        var length: Int
        var currentFunction: String
    }

    struct BigProcess: Sendable, Equatable {
        var who: String
        var bytes: Int
    }

    /// An amount and the most it may be.
    struct Usage: Sendable, Equatable {
        var used: Int
        var limit: Int
    }

    var processCount = 0, processLimit = 0
    var portCount = 0, portLimit = 0
    var etsCount = 0, etsLimit = 0
    var atomCount = 0, atomLimit = 0
    var memoryTotal = 0
    var systemMemory: Int?
    var openFileDescriptors: Int?
    var maxFileDescriptors: Int?
    var sockets = 0
    var longQueues: [LongQueue] = []
    /// False when the node had too many processes to scan for long queues this time.
    var queuesScanned = true
    /// The process using the most memory (nil when the scan was skipped).
    var biggestProcess: BigProcess?
    /// Module and export table entries and limits (nil when the node did not tell).
    var moduleCount: Int?, moduleLimit: Int?
    var exportCount: Int?, exportLimit: Int?
    /// The shell history's bytes and cap, when the node keeps one.
    var shellHistory: Usage?
    /// Processes ready to run on the normal schedulers, and how many are online.
    var runQueue = 0
    var schedulersOnline = 1
    /// The fullest distribution buffer (bytes, and the peer it is for) and the busy limit.
    var distQueueMax = 0
    var distQueuePeer: String?
    var distBusyLimit: Int?
    /// Seconds between the node's clock and Numbat's, less the round trip's uncertainty; set by
    /// the watcher, which timed the call.
    var clockSkewSeconds: Double?
    var nodeTimeMilliseconds: Int?
    var utcOffsetMinutes: Int?
    /// OTP release, ERTS version and word size, compared within a family.
    var system: [String: String] = [:]
    /// Application alarm managers the agent is subscribed to.
    var managers: [String] = []
    var oldCode: [String] = []
    var applications: [String: String] = [:]
    var cpuLoad: Double?
    var logicalProcessors = 1
    var disks: [String: Int]?
}

extension AlarmFacts {
    /// Reads the agent's map; nil if it is not one.
    init?(_ term: Term) {
        guard case .map(let map) = term else { return nil }
        func value(_ key: String) -> Term? { map[.atom(Atom(key))] }
        func int(_ key: String) -> Int? { value(key)?.intValue }
        processCount = int("process_count") ?? 0
        processLimit = int("process_limit") ?? 0
        portCount = int("port_count") ?? 0
        portLimit = int("port_limit") ?? 0
        etsCount = int("ets_count") ?? 0
        etsLimit = int("ets_limit") ?? 0
        atomCount = int("atom_count") ?? 0
        atomLimit = int("atom_limit") ?? 0
        memoryTotal = int("memory_total") ?? 0
        systemMemory = int("system_memory")
        openFileDescriptors = int("open_fds")
        maxFileDescriptors = int("max_fds")
        sockets = int("sockets") ?? 0
        longQueues = (value("long_queues")?.listElements ?? []).compactMap { entry in
            guard case .map(let fields) = entry, let length = fields[.atom("length")]?.intValue else { return nil }
            let name = fields[.atom("name")]?.atomValue.flatMap { $0 == .undefined ? nil : $0.name }
            return LongQueue(pid: fields[.atom("pid")].flatMap(Self.text) ?? "?", name: name, length: length,
                             currentFunction: fields[.atom("current_function")].flatMap(Self.text) ?? "")
        }
        queuesScanned = value("queues_scanned") != .atom(.false)
        if case .map(let biggest)? = value("biggest_process"), let bytes = biggest[.atom("memory")]?.intValue {
            let name = biggest[.atom("name")]?.atomValue.flatMap { $0 == .undefined ? nil : $0.name }
            let pid = biggest[.atom("pid")].flatMap(Self.text) ?? "?"
            biggestProcess = BigProcess(who: name.map { "\($0) (\(pid))" } ?? pid, bytes: bytes)
        }
        moduleCount = int("module_count")
        moduleLimit = int("module_limit")
        exportCount = int("export_count")
        exportLimit = int("export_limit")
        if case .map(let history)? = value("shell_history"), let bytes = history[.atom("bytes")]?.intValue,
           let limit = history[.atom("limit")]?.intValue {
            shellHistory = Usage(used: bytes, limit: limit)
        }
        runQueue = int("run_queue") ?? 0
        schedulersOnline = max(int("schedulers_online") ?? 1, 1)
        distQueueMax = int("dist_queue_max") ?? 0
        distQueuePeer = value("dist_queue_peer")?.atomValue.flatMap { $0 == .undefined ? nil : $0.name }
        distBusyLimit = int("dist_busy_limit")
        nodeTimeMilliseconds = int("system_time_ms")
        utcOffsetMinutes = int("utc_offset_minutes")
        if case .map(let fields)? = value("system") {
            for (key, field) in fields {
                guard let name = key.atomValue?.name else { continue }
                system[name] = field.intValue.map(String.init) ?? Self.text(field)
            }
        }
        managers = (value("managers")?.listElements ?? []).compactMap { $0.atomValue?.name }
        oldCode = (value("old_code")?.listElements ?? []).compactMap { $0.atomValue?.name }
        for pair in value("applications")?.listElements ?? [] {
            guard let parts = pair.tupleElements, parts.count == 2, let app = parts[0].atomValue, let version = Self.text(parts[1]) else { continue }
            applications[app.name] = version
        }
        cpuLoad = value("cpu_load")?.doubleValue ?? value("cpu_load")?.intValue.map(Double.init)
        logicalProcessors = max(int("logical_processors") ?? 1, 1)
        if let list = value("disks")?.listElements {
            disks = Dictionary(list.compactMap { pair -> (String, Int)? in
                guard let parts = pair.tupleElements, parts.count == 2, let mount = Self.text(parts[0]), let used = parts[1].intValue else { return nil }
                return (mount, used)
            }, uniquingKeysWith: max)
        }
    }

    private static func text(_ term: Term) -> String? {
        term.binaryValue.map { String(decoding: $0, as: UTF8.self) } ?? term.stringValue
    }
}

/// A condition a built-in check found: raised (or kept) while it holds, cleared when a check no
/// longer finds it.
struct AlarmCondition: Sendable, Equatable {
    var key: String
    var severity: Alarm.Severity
    var summary: String
    var details: String = ""
}

/// The built-in checks (seed 4.2.4): pure functions of a node's facts and the thresholds, so
/// each is tested without a node; `NodeAlarmWatcher` runs them and raises and clears.
enum BuiltInChecks {
    /// Every condition that holds on the node now.
    static func evaluate(_ facts: AlarmFacts, _ thresholds: AlarmThresholds) -> [AlarmCondition] {
        var found: [AlarmCondition] = []
        func limit(_ key: String, _ what: String, _ count: Int, _ limit: Int, _ level: AlarmThresholds.Level?) {
            guard let level, limit > 0, let severity = level.severity(of: Double(count) / Double(limit)) else { return }
            found.append(AlarmCondition(key: key, severity: severity, summary: "\(what): \(count) of the limit \(limit) (\(percent(count, limit)))"))
        }
        limit("process_limit", "processes", facts.processCount, facts.processLimit, thresholds.processes)
        limit("port_limit", "ports", facts.portCount, facts.portLimit, thresholds.ports)
        limit("ets_limit", "ETS tables", facts.etsCount, facts.etsLimit, thresholds.ets)
        limit("atom_limit", "atoms", facts.atomCount, facts.atomLimit, thresholds.atoms)
        if let total = facts.systemMemory, let level = thresholds.memory, total > 0,
           let severity = level.severity(of: Double(facts.memoryTotal) / Double(total)) {
            found.append(AlarmCondition(key: "memory", severity: severity,
                                        summary: "memory: the node uses \(megabytes(facts.memoryTotal)) of the host's \(megabytes(total)) (\(percent(facts.memoryTotal, total)))"))
        }
        if let maximum = facts.maxFileDescriptors {
            if let open = facts.openFileDescriptors { limit("file_descriptors", "open file descriptors", open, maximum, thresholds.fileDescriptors) }
            limit("sockets", "sockets", facts.sockets, maximum, thresholds.sockets)
        }
        if let level = thresholds.messageQueue {
            for queue in facts.longQueues {
                guard let severity = level.severity(of: Double(queue.length)) else { continue }
                let who = queue.name.map { "\($0) (\(queue.pid))" } ?? queue.pid
                found.append(AlarmCondition(key: "message_queue:\(queue.name ?? queue.pid)", severity: severity,
                                            summary: "message queue: \(who) has \(queue.length) messages waiting",
                                            details: "current function: \(queue.currentFunction)"))
            }
        }
        if thresholds.oldCode, !facts.oldCode.isEmpty {
            found.append(AlarmCondition(key: "old_code", severity: .minor,
                                        summary: "old code loaded: \(facts.oldCode.sorted().prefix(10).joined(separator: ", "))\(facts.oldCode.count > 10 ? " and \(facts.oldCode.count - 10) more" : "")",
                                        details: facts.oldCode.sorted().joined(separator: ", ")))
        }
        if let load = facts.cpuLoad, let level = thresholds.cpuLoad,
           let severity = level.severity(of: load / Double(facts.logicalProcessors)) {
            found.append(AlarmCondition(key: "cpu_load", severity: severity,
                                        summary: "CPU load: \(String(format: "%.2f", load)) over \(facts.logicalProcessors) logical processor(s)"))
        }
        if let disks = facts.disks, let level = thresholds.diskCapacity {
            for (mount, used) in disks.sorted(by: { $0.key < $1.key }) {
                guard let severity = level.severity(of: Double(used)) else { continue }
                found.append(AlarmCondition(key: "disk:\(mount)", severity: severity, summary: "disk \(mount) is \(used)% full"))
            }
        }
        if let count = facts.moduleCount, let maximum = facts.moduleLimit {
            limit("module_limit", "modules loaded", count, maximum, thresholds.modules)
        }
        if let count = facts.exportCount, let maximum = facts.exportLimit {
            limit("export_limit", "exported functions", count, maximum, thresholds.exports)
        }
        if let history = facts.shellHistory, let level = thresholds.shellHistory, history.limit > 0,
           let severity = level.severity(of: Double(history.used) / Double(history.limit)) {
            found.append(AlarmCondition(key: "shell_history", severity: severity,
                                        summary: "shell history: \(kilobytes(history.used)) of its \(kilobytes(history.limit)) cap (\(percent(history.used, history.limit))); the oldest commands are dropped when it is full"))
        }
        if let busy = facts.distBusyLimit, busy > 0, let level = thresholds.distBuffer,
           let severity = level.severity(of: Double(facts.distQueueMax) / Double(busy)) {
            found.append(AlarmCondition(key: "dist_buffer", severity: severity,
                                        summary: "distribution buffer: \(kilobytes(facts.distQueueMax)) queued for \(facts.distQueuePeer ?? "a peer") of the busy limit \(kilobytes(busy)) (\(percent(facts.distQueueMax, busy)))"))
        }
        if let level = thresholds.runQueue, let severity = level.severity(of: Double(facts.runQueue) / Double(facts.schedulersOnline)) {
            found.append(AlarmCondition(key: "run_queue", severity: severity,
                                        summary: "run queue: \(facts.runQueue) processes ready to run on \(facts.schedulersOnline) scheduler(s)"))
        }
        if let biggest = facts.biggestProcess, let level = thresholds.processMemory,
           let severity = level.severity(of: Double(biggest.bytes)) {
            found.append(AlarmCondition(key: "process_memory", severity: severity,
                                        summary: "process memory: \(biggest.who) uses \(megabytes(biggest.bytes))"))
        }
        if let skew = facts.clockSkewSeconds, let level = thresholds.clockSkew, let severity = level.severity(of: skew) {
            found.append(AlarmCondition(key: "clock_skew", severity: severity,
                                        summary: String(format: "clock: the node's clock is %.1f s off Numbat's", skew)))
        }
        return found
    }

    /// Seconds between a node's clock and Numbat's: `nodeMilliseconds` read between `sent` and
    /// `received`, less half the round trip (it may have been read at any moment in it).
    static func clockSkew(nodeMilliseconds: Int, sent: Date, received: Date) -> Double {
        let middle = (sent.timeIntervalSince1970 + received.timeIntervalSince1970) / 2
        let uncertainty = received.timeIntervalSince(sent) / 2
        return max(0, abs(Double(nodeMilliseconds) / 1000 - middle) - uncertainty)
    }

    /// What the family checks compare: applications' versions, the system's (OTP release,
    /// ERTS version, word size), the time zone.
    enum FamilyAspect: CaseIterable {
        case applications, system, timezone

        var key: String {
            switch self {
            case .applications: "version_mismatch"
            case .system: "system_mismatch"
            case .timezone: "timezone_mismatch"
            }
        }

        var what: String {
            switch self {
            case .applications: "application versions differ within the family"
            case .system: "system information differs within the family"
            case .timezone: "time zones differ within the family"
            }
        }

        func isOn(_ thresholds: AlarmThresholds) -> Bool {
            switch self {
            case .applications: thresholds.versionMismatch
            case .system: thresholds.systemMismatch
            case .timezone: thresholds.timezoneMismatch
            }
        }

        /// The values of the node this aspect compares, by name.
        func values(_ facts: AlarmFacts) -> [String: String] {
            switch self {
            case .applications: facts.applications
            case .system: facts.system
            case .timezone: facts.utcOffsetMinutes.map { ["UTC offset": Self.offset($0)] } ?? [:]
            }
        }

        /// "+09:00", "-05:30". Made at every check of every node: Foundation's
        /// `String(format:)` took 24,600 instructions a check, more than the rest of the
        /// timezone comparison (callgrind of an idle server, docs/benchmarks.md).
        static func offset(_ minutes: Int) -> String {
            func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
            return "\(minutes < 0 ? "-" : "+")\(twoDigits(abs(minutes) / 60)):\(twoDigits(abs(minutes) % 60))"
        }
    }

    /// A family check: values of this node differing from another UP member's
    /// (`FamilyVersions.differences`), naming up to three members per other value.
    static func familyMismatch(_ aspect: FamilyAspect, _ found: [FamilyVersions.Difference], _ thresholds: AlarmThresholds) -> AlarmCondition? {
        guard aspect.isOn(thresholds) else { return nil }
        let differences = found.map { difference in
            let elsewhere = difference.elsewhere.map { other in
                "\(other.version) on \(other.examples.joined(separator: ", "))" + (other.count > other.examples.count ? " and \(other.count - other.examples.count) more" : "")
            }
            return "\(difference.application) \(difference.here) here, \(elsewhere.joined(separator: ", "))"
        }
        guard !differences.isEmpty else { return nil }
        return AlarmCondition(key: aspect.key, severity: .minor,
                              summary: "\(aspect.what): \(differences.prefix(3).joined(separator: "; "))\(differences.count > 3 ? "; ..." : "")",
                              details: differences.joined(separator: "\n"))
    }

    private static func percent(_ part: Int, _ whole: Int) -> String {
        String(format: "%.0f%%", Double(part) / Double(whole) * 100)
    }

    private static func kilobytes(_ bytes: Int) -> String {
        String(format: "%.0f KB", Double(bytes) / 1024)
    }

    private static func megabytes(_ bytes: Int) -> String {
        String(format: "%.0f MB", Double(bytes) / 1_048_576)
    }
}
