import Foundation
import NumbatCore

/// `POST /api/trace/sessions` (admin): one bounded trace session on a node or on every UP
/// member of a family (docs/tracing.md). Limits apply per node; what is not given takes the
/// server's defaults, and none may exceed the server's caps.
public struct StartTraceRequest: Codable, Sendable, Equatable {
    /// A node id (or name), or give `family`.
    public var node: String?
    /// A family id: every UP member is traced, each with the same limits.
    public var family: String?
    /// `call` (the default), `messages` or `gc`.
    public var kind: String?
    /// For calls: `module:function/arity`; `function` and `arity` may be `_` (any).
    public var mfa: String?
    /// For calls: an Erlang match spec (`[{['$1', '_'], [{'>', '$1', 10}], [{return_trace}]}]`),
    /// or a shorthand: `return_trace`, `exception_trace`, `caller`.
    public var matchSpec: String?
    /// For messages (required) and gc (all processes without it): a pid (`<0.80.0>`) or a
    /// registered name.
    public var process: String?
    public var maxCount: Int?
    /// Events per `rate_window_ms` (default 1000) at most; more ends the node's part.
    public var maxRate: Int?
    public var rateWindowMs: Int?
    public var durationS: Int?

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["node", "family", "kind", "mfa", "match_spec", "process", "max_count", "max_rate",
                                                    "rate_window_ms", "duration_s"]

    public init(node: String? = nil, family: String? = nil, kind: String? = nil, mfa: String? = nil, matchSpec: String? = nil,
                process: String? = nil, maxCount: Int? = nil, maxRate: Int? = nil, rateWindowMs: Int? = nil, durationS: Int? = nil) {
        self.node = node
        self.family = family
        self.kind = kind
        self.mfa = mfa
        self.matchSpec = matchSpec
        self.process = process
        self.maxCount = maxCount
        self.maxRate = maxRate
        self.rateWindowMs = rateWindowMs
        self.durationS = durationS
    }

    enum CodingKeys: String, CodingKey {
        case node, family, kind, mfa, process
        case matchSpec = "match_spec"
        case maxCount = "max_count"
        case maxRate = "max_rate"
        case rateWindowMs = "rate_window_ms"
        case durationS = "duration_s"
    }
}

/// `GET /api/trace/sessions`: newest first.
public struct TraceSessionListResponse: Codable, Sendable, Equatable {
    public var sessions: [TraceSession]

    public init(sessions: [TraceSession]) { self.sessions = sessions }
}

/// `GET /api/trace/sessions/{id}/events`: oldest first; `next` is the `after` of the next page,
/// absent on the last one.
public struct TraceEventPageResponse: Codable, Sendable, Equatable {
    public var events: [TraceEvent]
    public var next: Int64?

    public init(events: [TraceEvent], next: Int64?) {
        self.events = events
        self.next = next
    }
}
