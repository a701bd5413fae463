import Foundation
import NumbatCore

/// `POST /api/nodes/{id}/rpc` (admin, audited): the arguments either as JSON terms (`args`,
/// the tagged form docs/commands.md describes) or in Erlang syntax as one list
/// (`args_erlang`), not both.
public struct RPCRequest: Codable, Sendable, Equatable {
    public var module: String
    public var function: String
    public var args: [JSONValue]?
    public var argsErlang: String?
    public var timeoutMs: Int?

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["module", "function", "args", "args_erlang", "timeout_ms"]

    public init(module: String, function: String, args: [JSONValue]? = nil, argsErlang: String? = nil, timeoutMs: Int? = nil) {
        self.module = module
        self.function = function
        self.args = args
        self.argsErlang = argsErlang
        self.timeoutMs = timeoutMs
    }

    enum CodingKeys: String, CodingKey {
        case module, function, args
        case argsErlang = "args_erlang"
        case timeoutMs = "timeout_ms"
    }
}

/// The answer to a call: the result as a JSON term (`result`, the tagged form) and in Erlang
/// syntax (`erlang`), with the audit entry that records it.
public struct RPCResponse: Codable, Sendable, Equatable {
    public var result: JSONValue
    public var erlang: String
    public var auditID: Int64
    public var durationMs: Double

    public init(result: JSONValue, erlang: String, auditID: Int64, durationMs: Double) {
        self.result = result
        self.erlang = erlang
        self.auditID = auditID
        self.durationMs = durationMs
    }

    enum CodingKeys: String, CodingKey {
        case result, erlang
        case auditID = "audit_id"
        case durationMs = "duration_ms"
    }
}

/// `GET /api/audit`: newest first; `next` is the `before` of the next (older) page, absent on
/// the last one.
public struct AuditPageResponse: Codable, Sendable, Equatable {
    public var entries: [AuditEntry]
    public var next: Int64?

    public init(entries: [AuditEntry], next: Int64?) {
        self.entries = entries
        self.next = next
    }
}
