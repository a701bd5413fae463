import Foundation
import NumbatAPI
import NumbatCore

/// When the built-in checks raise alarms, and how often they run: a minor and a major threshold
/// for each check (a check set to null is off). Stored, so a restart keeps an operator's
/// settings; `PUT /api/alarms/thresholds` changes any of them.
public struct AlarmThresholds: Codable, Sendable, Equatable {
    /// Minor at or above `minor`, major at or above `major`.
    public struct Level: Codable, Sendable, Equatable {
        public var minor: Double
        public var major: Double

        public init(minor: Double, major: Double) {
            self.minor = minor
            self.major = major
        }

        /// The severity of `value`, or nil below both thresholds.
        func severity(of value: Double) -> Alarm.Severity? {
            value >= major ? .major : value >= minor ? .minor : nil
        }
    }

    /// Seconds between two checks of a node.
    public var intervalSeconds: Double = 15
    /// Fractions (0...1) of the node's limit.
    public var processes: Level? = Level(minor: 0.8, major: 0.9)
    public var ports: Level? = Level(minor: 0.8, major: 0.9)
    public var ets: Level? = Level(minor: 0.8, major: 0.9)
    public var atoms: Level? = Level(minor: 0.8, major: 0.9)
    /// The node's memory as a fraction of the host's RAM.
    public var memory: Level? = Level(minor: 0.7, major: 0.85)
    /// Open file descriptors, and sockets, as fractions of the emulator's descriptor limit.
    public var fileDescriptors: Level? = Level(minor: 0.8, major: 0.9)
    public var sockets: Level? = Level(minor: 0.7, major: 0.85)
    /// Messages waiting in one process's queue.
    public var messageQueue: Level? = Level(minor: 10_000, major: 100_000)
    /// os_mon's one-minute load average per logical processor.
    public var cpuLoad: Level? = Level(minor: 1.5, major: 3)
    /// os_mon's disk use, percent of each mounted disk.
    public var diskCapacity: Level? = Level(minor: 85, major: 95)
    /// Fractions of the module and export tables' limits (64K modules, 512K exports by default;
    /// `+zmml`, `+zmel` where the emulator has them): a node that loads code without end dies.
    public var modules: Level? = Level(minor: 0.8, major: 0.9)
    public var exports: Level? = Level(minor: 0.8, major: 0.9)
    /// The shell history's size as a fraction of its cap: when full, the oldest commands (the
    /// record of what was typed on the node) are dropped.
    public var shellHistory: Level? = Level(minor: 0.8, major: 0.95)
    /// The fullest distribution buffer as a fraction of the busy limit (+zdbbl): at 1, senders
    /// to that node are suspended.
    public var distBuffer: Level? = Level(minor: 0.5, major: 0.9)
    /// Processes ready to run per online scheduler.
    public var runQueue: Level? = Level(minor: 5, major: 20)
    /// Bytes of memory of the process that uses the most.
    public var processMemory: Level? = Level(minor: 256 * 1_048_576, major: 1_024 * 1_048_576)
    /// Seconds the node's clock is off Numbat's (timestamps, leases and TLS all suffer).
    public var clockSkew: Level? = Level(minor: 1, major: 10)
    /// Modules with old code still loaded (a hot upgrade not finished).
    public var oldCode = true
    /// Applications of different versions on the UP nodes of one family.
    public var versionMismatch = true
    /// OTP release, ERTS version or word size differing on the UP nodes of one family.
    public var systemMismatch = true
    /// Time zones (UTC offsets) differing on the UP nodes of one family.
    public var timezoneMismatch = true
    /// Alarm managers besides SASL's `alarm_handler` whose alarms become Numbat's when they run
    /// on a node: registered gen_event managers that take `{set_alarm, {Id, Description}}` and
    /// `{clear_alarm, Id}` events, as `alarm_handler` does (RabbitMQ's `rabbit_alarm`).
    public var alarmManagers: [String] = ["rabbit_alarm"]

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case intervalSeconds = "interval_seconds"
        case processes, ports, ets, atoms, memory
        case fileDescriptors = "file_descriptors"
        case sockets
        case messageQueue = "message_queue"
        case cpuLoad = "cpu_load"
        case diskCapacity = "disk_capacity"
        case modules, exports
        case shellHistory = "shell_history"
        case distBuffer = "dist_buffer"
        case runQueue = "run_queue"
        case processMemory = "process_memory"
        case clockSkew = "clock_skew"
        case oldCode = "old_code"
        case versionMismatch = "version_mismatch"
        case systemMismatch = "system_mismatch"
        case timezoneMismatch = "timezone_mismatch"
        case alarmManagers = "alarm_managers"
    }

    /// Reads stored or merged thresholds: a field absent (stored before the check existed)
    /// keeps its default; null turns a check off.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func level(_ key: CodingKeys, _ current: Level?) throws -> Level? {
            container.contains(key) ? try container.decodeIfPresent(Level.self, forKey: key) : current
        }
        intervalSeconds = try container.decodeIfPresent(Double.self, forKey: .intervalSeconds) ?? intervalSeconds
        processes = try level(.processes, processes)
        ports = try level(.ports, ports)
        ets = try level(.ets, ets)
        atoms = try level(.atoms, atoms)
        memory = try level(.memory, memory)
        fileDescriptors = try level(.fileDescriptors, fileDescriptors)
        sockets = try level(.sockets, sockets)
        messageQueue = try level(.messageQueue, messageQueue)
        cpuLoad = try level(.cpuLoad, cpuLoad)
        diskCapacity = try level(.diskCapacity, diskCapacity)
        modules = try level(.modules, modules)
        exports = try level(.exports, exports)
        shellHistory = try level(.shellHistory, shellHistory)
        distBuffer = try level(.distBuffer, distBuffer)
        runQueue = try level(.runQueue, runQueue)
        processMemory = try level(.processMemory, processMemory)
        clockSkew = try level(.clockSkew, clockSkew)
        oldCode = try container.decodeIfPresent(Bool.self, forKey: .oldCode) ?? oldCode
        versionMismatch = try container.decodeIfPresent(Bool.self, forKey: .versionMismatch) ?? versionMismatch
        systemMismatch = try container.decodeIfPresent(Bool.self, forKey: .systemMismatch) ?? systemMismatch
        timezoneMismatch = try container.decodeIfPresent(Bool.self, forKey: .timezoneMismatch) ?? timezoneMismatch
        alarmManagers = try container.decodeIfPresent([String].self, forKey: .alarmManagers) ?? alarmManagers
    }

    /// Encodes every check, the ones that are off as null, so a reader sees them all.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(intervalSeconds, forKey: .intervalSeconds)
        for (key, level) in levels { try container.encode(level, forKey: key) }
        try container.encode(oldCode, forKey: .oldCode)
        try container.encode(versionMismatch, forKey: .versionMismatch)
        try container.encode(systemMismatch, forKey: .systemMismatch)
        try container.encode(timezoneMismatch, forKey: .timezoneMismatch)
        try container.encode(alarmManagers, forKey: .alarmManagers)
    }

    private var levels: [(CodingKeys, Level?)] {
        [(.processes, processes), (.ports, ports), (.ets, ets), (.atoms, atoms), (.memory, memory),
         (.fileDescriptors, fileDescriptors), (.sockets, sockets), (.messageQueue, messageQueue),
         (.cpuLoad, cpuLoad), (.diskCapacity, diskCapacity), (.modules, modules), (.exports, exports),
         (.shellHistory, shellHistory), (.distBuffer, distBuffer), (.runQueue, runQueue),
         (.processMemory, processMemory), (.clockSkew, clockSkew)]
    }

    /// Refuses settings that cannot work, naming the field.
    public func validate() throws {
        guard intervalSeconds >= 0.1, intervalSeconds <= 86_400 else {
            throw NumbatError.badRequest("invalid_thresholds", "interval_seconds must be between 0.1 and 86400")
        }
        for (key, level) in levels {
            guard let level else { continue }
            guard level.minor > 0, level.minor <= level.major else {
                throw NumbatError.badRequest("invalid_thresholds", "\(key.rawValue): minor must be above 0 and at most major")
            }
            let fraction: Set<CodingKeys> = [.processes, .ports, .ets, .atoms, .memory, .fileDescriptors, .sockets,
                                             .modules, .exports, .shellHistory, .distBuffer]
            if fraction.contains(key), level.major > 1 {
                throw NumbatError.badRequest("invalid_thresholds", "\(key.rawValue): thresholds are fractions of the limit, at most 1")
            }
        }
        for manager in alarmManagers {
            // An Erlang atom as written without quotes: what `whereis/1` is asked on the node.
            guard manager.range(of: "^[a-z][A-Za-z0-9_@]{0,254}$", options: .regularExpression) != nil else {
                throw NumbatError.badRequest("invalid_thresholds", "alarm_managers: '\(manager.prefix(64))' is not a registered name (a lower-case Erlang atom)")
            }
        }
    }
}

extension AlarmThresholds {
    /// The body of `PUT /api/alarms/thresholds`: only the fields to change, each a threshold
    /// object, null (the check off), a number or a boolean. Kept as JSON values rather than
    /// optionals because a field's absence (unchanged) and its null (off) mean different things.
    public struct Update: StrictJSONBody, Sendable, Equatable {
        public var fields: [String: JSONValue]

        public init(fields: [String: JSONValue]) { self.fields = fields }

        public init(from decoder: any Decoder) throws {
            fields = try decoder.singleValueContainer().decode([String: JSONValue].self)
        }

        public static let allowedFields = Set(CodingKeys.allCases.map(\.rawValue))
    }

    /// Applies a partial update: each given field replaces the current one; null turns a check
    /// off. The merged thresholds are decoded and validated as a whole, so a wrong shape or an
    /// impossible level is a 400 naming the field.
    public func updated(with update: Update) throws -> AlarmThresholds {
        let unknown = Set(update.fields.keys).subtracting(Update.allowedFields)
        guard unknown.isEmpty else {
            throw NumbatError.badRequest("unknown_field", "unknown field(s) \(unknown.sorted().joined(separator: ", ")); allowed: \(Update.allowedFields.sorted().joined(separator: ", "))")
        }
        let current = try JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(self))
        let merged = current.merging(update.fields) { _, new in new }
        let updated: AlarmThresholds
        do {
            updated = try JSONDecoder().decode(AlarmThresholds.self, from: JSONEncoder().encode(merged))
        } catch {
            throw NumbatError.badRequest("invalid_thresholds", "thresholds must be {\"minor\": number, \"major\": number} or null; interval_seconds a number; old_code, version_mismatch, system_mismatch and timezone_mismatch true or false; alarm_managers a list of names")
        }
        try updated.validate()
        return updated
    }
}
