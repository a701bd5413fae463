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
        return found
    }

    /// The family check: applications whose version on this node differs from another UP
    /// member's (`FamilyVersions.differences`), naming up to three members per other version.
    static func versionMismatch(_ found: [FamilyVersions.Difference], _ thresholds: AlarmThresholds) -> AlarmCondition? {
        guard thresholds.versionMismatch else { return nil }
        let differences = found.map { difference in
            let elsewhere = difference.elsewhere.map { other in
                "\(other.version) on \(other.examples.joined(separator: ", "))" + (other.count > other.examples.count ? " and \(other.count - other.examples.count) more" : "")
            }
            return "\(difference.application) \(difference.here) here, \(elsewhere.joined(separator: ", "))"
        }
        guard !differences.isEmpty else { return nil }
        return AlarmCondition(key: "version_mismatch", severity: .minor,
                              summary: "application versions differ within the family: \(differences.prefix(3).joined(separator: "; "))\(differences.count > 3 ? "; ..." : "")",
                              details: differences.joined(separator: "\n"))
    }

    private static func percent(_ part: Int, _ whole: Int) -> String {
        String(format: "%.0f%%", Double(part) / Double(whole) * 100)
    }

    private static func megabytes(_ bytes: Int) -> String {
        String(format: "%.0f MB", Double(bytes) / 1_048_576)
    }
}
