import Foundation

/// An alarm (seed 4.2.4): a condition on a node that needs an operator, with a lifecycle. It is
/// raised `new`; a user may acknowledge it (with a comment); its source clears it. Identity is
/// the node and the `key`: the same alarm raised again while it is active is this alarm again
/// (`raiseCount` grows), not a second one; raised after it cleared, it is a new alarm.
public struct Alarm: Codable, Sendable, Equatable, Identifiable {
    /// X.733's perceived severities, most severe first.
    public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
        case critical, major, minor, warning, indeterminate

        public var rank: Int { Self.allCases.firstIndex(of: self)! }

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank > rhs.rank }
    }

    public enum State: String, Codable, Sendable, CaseIterable {
        case new, acknowledged, cleared
    }

    /// Who raises and clears it: SASL's `alarm_handler`, an application's own alarm manager
    /// (RabbitMQ's `rabbit_alarm`, or any gen_event manager configured), Numbat's built-in
    /// checks, or Numbat itself (a node that is down).
    public enum Source: String, Codable, Sendable, CaseIterable {
        case sasl, application, builtin, numbat
    }

    public var id: Int64
    public var nodeID: UUID?
    public var nodeName: String
    /// What makes two raises the same alarm: `process_limit`, `message_queue:my_server`,
    /// `sasl:{disk_almost_full,"/"}`...
    public var key: String
    public var source: Source
    public var severity: Severity
    public var state: State
    /// One line for lists.
    public var summary: String
    /// The source's own description, in Erlang syntax where it came from a node.
    public var details: String
    public var raisedAt: Date
    public var lastRaisedAt: Date
    public var raiseCount: Int
    public var acknowledgedAt: Date?
    public var acknowledgedBy: String?
    public var clearedAt: Date?
    /// What happened to it, oldest first; only in single-alarm reads.
    public var history: [AlarmEvent]?

    public init(id: Int64 = 0, nodeID: UUID?, nodeName: String, key: String, source: Source, severity: Severity,
                state: State = .new, summary: String, details: String = "", raisedAt: Date, lastRaisedAt: Date? = nil,
                raiseCount: Int = 1, acknowledgedAt: Date? = nil, acknowledgedBy: String? = nil, clearedAt: Date? = nil,
                history: [AlarmEvent]? = nil) {
        self.id = id
        self.nodeID = nodeID
        self.nodeName = nodeName
        self.key = key
        self.source = source
        self.severity = severity
        self.state = state
        self.summary = summary
        self.details = details
        self.raisedAt = raisedAt
        self.lastRaisedAt = lastRaisedAt ?? raisedAt
        self.raiseCount = raiseCount
        self.acknowledgedAt = acknowledgedAt
        self.acknowledgedBy = acknowledgedBy
        self.clearedAt = clearedAt
        self.history = history
    }

    public var isActive: Bool { state != .cleared }

    enum CodingKeys: String, CodingKey {
        case id, key, source, severity, state, summary, details, history
        case nodeID = "node"
        case nodeName = "node_name"
        case raisedAt = "raised_at"
        case lastRaisedAt = "last_raised_at"
        case raiseCount = "raise_count"
        case acknowledgedAt = "acknowledged_at"
        case acknowledgedBy = "acknowledged_by"
        case clearedAt = "cleared_at"
    }
}

/// One step in an alarm's life. Comments are steps too (`commented`, or the text of an
/// acknowledgement), so the history reads as one timeline.
public struct AlarmEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// First raised.
        case raised
        /// Raised again while active, at the same or a lower severity.
        case repeated
        /// Raised again at a higher severity: back to `new`, as it needs a new look.
        case escalated
        case acknowledged
        case commented
        case cleared
    }

    public var time: Date
    public var kind: Kind
    /// The user (token name) for acknowledgements and comments; nil for the source's steps.
    public var actor: String?
    public var text: String

    public init(time: Date, kind: Kind, actor: String? = nil, text: String = "") {
        self.time = time
        self.kind = kind
        self.actor = actor
        self.text = text
    }
}

/// A source's report that a condition holds.
public struct AlarmRaise: Sendable, Equatable {
    public var nodeID: UUID
    public var nodeName: String
    public var key: String
    public var source: Alarm.Source
    public var severity: Alarm.Severity
    public var summary: String
    public var details: String
    public var time: Date

    public init(nodeID: UUID, nodeName: String, key: String, source: Alarm.Source, severity: Alarm.Severity,
                summary: String, details: String = "", time: Date = Date()) {
        self.nodeID = nodeID
        self.nodeName = nodeName
        self.key = key
        self.source = source
        self.severity = severity
        self.summary = summary
        self.details = details
        self.time = time
    }
}

/// What a store operation did to an alarm, for events and notifications.
public struct AlarmChange: Codable, Sendable, Equatable {
    public var alarm: Alarm
    public var kind: AlarmEvent.Kind

    public init(alarm: Alarm, kind: AlarmEvent.Kind) {
        self.alarm = alarm
        self.kind = kind
    }
}

/// Which alarms to read, newest first; `before` is the cursor.
public struct AlarmQuery: Sendable, Equatable {
    public var nodes: [UUID]?
    /// nil: every state.
    public var states: Set<Alarm.State>?
    /// The least severe wanted.
    public var severity: Alarm.Severity?
    public var source: Alarm.Source?
    public var before: Int64?
    public var limit: Int

    public init(nodes: [UUID]? = nil, states: Set<Alarm.State>? = nil, severity: Alarm.Severity? = nil,
                source: Alarm.Source? = nil, before: Int64? = nil, limit: Int = 100) {
        self.nodes = nodes
        self.states = states
        self.severity = severity
        self.source = source
        self.before = before
        self.limit = limit
    }
}

extension Alarm {
    /// The active alarm raised again by its source: counted, its severity and text updated.
    /// Worse than before is an escalation, and an acknowledged alarm that escalates needs a new
    /// look (`new` again; the acknowledgement stays in the history). Pure: both stores apply it.
    public mutating func raiseAgain(_ raise: AlarmRaise) -> AlarmEvent.Kind {
        let kind: AlarmEvent.Kind = raise.severity > severity ? .escalated : .repeated
        raiseCount += 1
        lastRaisedAt = raise.time
        severity = raise.severity
        summary = raise.summary
        details = raise.details
        if kind == .escalated, state == .acknowledged {
            state = .new
            acknowledgedAt = nil
            acknowledgedBy = nil
        }
        return kind
    }
}
