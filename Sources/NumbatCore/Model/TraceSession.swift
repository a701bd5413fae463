import Foundation

/// One trace session (issue 19, "safe tracing"): what was traced on which nodes, with which
/// limits, and how each node's part ended. Kept in the store with its events, so a session can
/// be read after it ended; `TraceSession+Lifecycle.swift` has its state changes.
public struct TraceSession: Codable, Sendable, Equatable, Identifiable {
    /// What is traced.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Calls to `module:function/arity` (with a match spec: arguments, return values).
        case call
        /// The messages one process sends and receives.
        case messages
        /// Garbage collections of one process, or of every process.
        case gc
    }

    public enum State: String, Codable, Sendable {
        case running
        case ended
    }

    /// Why a node's part ended.
    public enum EndReason: String, Codable, Sendable, CaseIterable {
        /// `max_count` events were kept.
        case maxCount = "max_count"
        /// More than `max_rate` events came within `rate_window_ms` (a kill switch, as recon_trace's).
        case rateLimit = "rate_limit"
        /// `duration_s` passed.
        case timeLimit = "time_limit"
        /// The tracer's own queue grew past its bound: the node produced more than it could format.
        case overload
        /// Stopped through the API.
        case stopped
        /// The tracer could not start (`error` says why) or the node went before the end was told.
        case failed
        /// The server stopped (or the connection went): the node cleared the trace itself.
        case disconnected
    }

    /// One node's part of the session.
    public struct NodePart: Codable, Sendable, Equatable {
        public var nodeID: UUID
        public var nodeName: String
        public var state: State
        public var endReason: EndReason?
        /// Events kept (stored, streamed).
        public var kept: Int
        /// Events the node dropped because the link to Numbat was congested.
        public var dropped: Int
        /// Functions the call pattern matched on the node.
        public var matched: Int?
        public var error: String?

        public init(nodeID: UUID, nodeName: String, state: State = .running, endReason: EndReason? = nil, kept: Int = 0,
                    dropped: Int = 0, matched: Int? = nil, error: String? = nil) {
            self.nodeID = nodeID
            self.nodeName = nodeName
            self.state = state
            self.endReason = endReason
            self.kept = kept
            self.dropped = dropped
            self.matched = matched
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case state, kept, dropped, matched, error
            case nodeID = "node"
            case nodeName = "node_name"
            case endReason = "end_reason"
        }
    }

    public var id: UUID
    public var kind: Kind
    /// `module:function/arity` for calls; a pid (`<0.1.0>`) or registered name for messages;
    /// `all`, a pid or a name for gc.
    public var target: String
    /// The match spec as given (Erlang syntax or a shorthand), for calls.
    public var matchSpec: String?
    /// The family traced, when the session was started for one.
    public var familyID: UUID?
    /// Events kept per node at most.
    public var maxCount: Int
    /// Events per `rateWindowMs` at most, per node; more ends the node's part.
    public var maxRate: Int
    public var rateWindowMs: Int
    public var durationSeconds: Int
    /// Who started it (the token's name).
    public var actor: String
    public var startedAt: Date
    public var endedAt: Date?
    public var state: State
    public var nodes: [NodePart]

    public init(id: UUID = UUID(), kind: Kind, target: String, matchSpec: String?, familyID: UUID?, maxCount: Int, maxRate: Int,
                rateWindowMs: Int, durationSeconds: Int, actor: String, startedAt: Date, endedAt: Date? = nil,
                state: State = .running, nodes: [NodePart]) {
        self.id = id
        self.kind = kind
        self.target = target
        self.matchSpec = matchSpec
        self.familyID = familyID
        self.maxCount = maxCount
        self.maxRate = maxRate
        self.rateWindowMs = rateWindowMs
        self.durationSeconds = durationSeconds
        self.actor = actor
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.state = state
        self.nodes = nodes
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, target, actor, state, nodes
        case matchSpec = "match_spec"
        case familyID = "family"
        case maxCount = "max_count"
        case maxRate = "max_rate"
        case rateWindowMs = "rate_window_ms"
        case durationSeconds = "duration_s"
        case startedAt = "started_at"
        case endedAt = "ended_at"
    }
}

/// One traced event, as the node's tracer formatted it (bounded depth and size).
public struct TraceEvent: Codable, Sendable, Equatable, Identifiable {
    /// Assigned by the store: increasing within a session, the cursor of its pages.
    public var id: Int64
    public var sessionID: UUID
    public var nodeID: UUID
    /// When it happened on the node.
    public var time: Date
    /// `call`, `return_from`, `exception_from`, `send`, `receive`, `gc_minor_start`, ...
    public var kind: String
    /// The process it happened in.
    public var pid: String
    /// The call with its arguments, the value returned, the message, the collection's figures.
    public var text: String

    public init(id: Int64 = 0, sessionID: UUID, nodeID: UUID, time: Date, kind: String, pid: String, text: String) {
        self.id = id
        self.sessionID = sessionID
        self.nodeID = nodeID
        self.time = time
        self.kind = kind
        self.pid = pid
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case id, time, kind, pid, text
        case sessionID = "session"
        case nodeID = "node"
    }
}
