import Foundation

/// A notification (seed 4.2.3): a log event collected from a managed node, or one of Numbat's
/// own (node up/down, dropped events, agent problems). `id` grows with every stored one, so
/// it is also the cursor of paginated reads.
public struct NodeNotification: Codable, Sendable, Equatable {
    /// Logger's levels, most severe first.
    public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
        case emergency, alert, critical, error, warning, notice, info, debug

        /// 0 for emergency ... 7 for debug, as syslog numbers them.
        public var rank: Int { Self.allCases.firstIndex(of: self)! }

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank > rhs.rank }
    }

    /// Where it came from: the node's `logger` (which also carries error_logger, SASL and Elixir
    /// Logger), `lager`, or `numbat` itself.
    public enum Source: String, Codable, Sendable {
        case logger, lager, numbat
    }

    public var id: Int64
    public var nodeID: UUID?
    public var nodeName: String
    public var time: Date
    public var severity: Severity
    public var source: Source
    /// Formatted as the node would print it.
    public var message: String
    /// Printable metadata: module/function/arity, pid, file, line, domain...
    public var metadata: [String: String]

    public init(id: Int64 = 0, nodeID: UUID?, nodeName: String, time: Date, severity: Severity, source: Source,
                message: String, metadata: [String: String] = [:]) {
        self.id = id
        self.nodeID = nodeID
        self.nodeName = nodeName
        self.time = time
        self.severity = severity
        self.source = source
        self.message = message
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case id, time, severity, source, message, metadata
        case nodeID = "node"
        case nodeName = "node_name"
    }
}

/// Which notifications to read: every filter is optional; `before` is the cursor (read those
/// with a smaller id), newest first.
public struct NotificationQuery: Sendable, Equatable {
    public var nodes: [UUID]?
    /// The least severe level wanted (`error` gives emergency ... error).
    public var severity: NodeNotification.Severity?
    public var from: Date?
    public var to: Date?
    /// Text the message must contain (case-insensitive).
    public var text: String?
    public var before: Int64?
    public var limit: Int

    public init(nodes: [UUID]? = nil, severity: NodeNotification.Severity? = nil, from: Date? = nil, to: Date? = nil,
                text: String? = nil, before: Int64? = nil, limit: Int = 100) {
        self.nodes = nodes
        self.severity = severity
        self.from = from
        self.to = to
        self.text = text
        self.before = before
        self.limit = limit
    }
}
