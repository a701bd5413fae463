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
    /// Modules with old code still loaded (a hot upgrade not finished).
    public var oldCode = true
    /// Applications of different versions on the UP nodes of one family.
    public var versionMismatch = true

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case intervalSeconds = "interval_seconds"
        case processes, ports, ets, atoms, memory
        case fileDescriptors = "file_descriptors"
        case sockets
        case messageQueue = "message_queue"
        case cpuLoad = "cpu_load"
        case diskCapacity = "disk_capacity"
        case oldCode = "old_code"
        case versionMismatch = "version_mismatch"
    }

    /// Encodes every check, the ones that are off as null, so a reader sees them all.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(intervalSeconds, forKey: .intervalSeconds)
        for (key, level) in levels { try container.encode(level, forKey: key) }
        try container.encode(oldCode, forKey: .oldCode)
        try container.encode(versionMismatch, forKey: .versionMismatch)
    }

    private var levels: [(CodingKeys, Level?)] {
        [(.processes, processes), (.ports, ports), (.ets, ets), (.atoms, atoms), (.memory, memory),
         (.fileDescriptors, fileDescriptors), (.sockets, sockets), (.messageQueue, messageQueue),
         (.cpuLoad, cpuLoad), (.diskCapacity, diskCapacity)]
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
            let fraction: Set<CodingKeys> = [.processes, .ports, .ets, .atoms, .memory, .fileDescriptors, .sockets]
            if fraction.contains(key), level.major > 1 {
                throw NumbatError.badRequest("invalid_thresholds", "\(key.rawValue): thresholds are fractions of the limit, at most 1")
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
            throw NumbatError.badRequest("invalid_thresholds", "thresholds must be {\"minor\": number, \"major\": number} or null; interval_seconds a number; old_code and version_mismatch true or false")
        }
        try updated.validate()
        return updated
    }
}
