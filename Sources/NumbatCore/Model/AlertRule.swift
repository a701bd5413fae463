import Foundation

/// Alert routing (issue 18 item 1): which alarm events go to which receivers. A rule matches an
/// alarm by severity, key, node and family; every condition left empty matches anything.
public struct AlertRule: Codable, Sendable, Equatable, Identifiable {
    /// The alarm events a rule can send.
    public enum Event: String, Codable, Sendable, CaseIterable {
        case raised, acknowledged, cleared
    }

    public var id: UUID
    public var name: String
    public var enabled: Bool
    /// The least severe alarm sent (`major`: critical and major); nil: every severity.
    public var minimumSeverity: Alarm.Severity?
    /// Alarm keys, each exact or a pattern with `*` (`sasl:*`, `message_queue:*`); empty: any.
    public var keys: [String]
    /// Node names; empty: any node.
    public var nodes: [String]
    /// Family ids; empty: any family (and nodes without one).
    public var families: [UUID]
    /// Which events go out; raised, acknowledged and cleared by default.
    public var events: [Event]
    /// An alarm cleared within this many seconds of being raised is not sent at all (flapping).
    public var minimumDurationSeconds: Double
    /// While an alarm stays raised (and not acknowledged), it is sent again this often; nil: once.
    public var repeatIntervalSeconds: Double?
    public var receivers: [UUID]
    public var createdAt: Date

    public init(id: UUID = UUID(), name: String, enabled: Bool = true, minimumSeverity: Alarm.Severity? = nil, keys: [String] = [],
                nodes: [String] = [], families: [UUID] = [], events: [Event] = Event.allCases, minimumDurationSeconds: Double = 0,
                repeatIntervalSeconds: Double? = nil, receivers: [UUID], createdAt: Date = Date()) {
        self.id = id
        self.name = name
        self.enabled = enabled
        self.minimumSeverity = minimumSeverity
        self.keys = keys
        self.nodes = nodes
        self.families = families
        self.events = events
        self.minimumDurationSeconds = minimumDurationSeconds
        self.repeatIntervalSeconds = repeatIntervalSeconds
        self.receivers = receivers
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, enabled, keys, nodes, families, events, receivers
        case minimumSeverity = "minimum_severity"
        case minimumDurationSeconds = "minimum_duration_seconds"
        case repeatIntervalSeconds = "repeat_interval_seconds"
        case createdAt = "created_at"
    }
}
