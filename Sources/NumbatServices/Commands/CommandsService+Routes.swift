import ErlangTerm
import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `POST /api/nodes/{id}/rpc` (admin only, audited), `GET /api/audit`, and the explorers:
/// `GET /api/nodes/{id}/processes`, `.../processes/{pid}`, `.../ets`. Bodies and answers are
/// NumbatAPI's types (the CLI's `numbat node rpc` and `numbat top` read the same); terms keep
/// `TermJSON`'s JSON form, as `JSONValue`s.
extension CommandsService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("nodes/:id/rpc") { request, context -> RPCResponse in
            try context.requireAdmin()
            let node = try await self.requireNode(context)
            let (object, data) = try await request.jsonObject(context: context)
            let body = try StrictJSON.decode(RPCRequest.self, object: object, data: data, decoder: context.requestDecoder)
            // `args` as written: JSONSerialization keeps `2.0` a fraction (a float for the node),
            // where the decoded `JSONValue` holds it as the integer 2.
            return try await self.rpc(node, body, writtenArgs: object["args"] as? [Any], actor: context.identity?.name ?? "unknown")
        }
        api.get("audit") { request, _ -> AuditPageResponse in
            let parameters = ListParameters(parameter: { request.uri.queryParameters[Substring($0)].map(String.init) })
            let limit = try parameters.limit() ?? 100
            let entries = try await self.audit.auditEntries(node: try await parameters.nodes(in: self.store)?.first,
                                                            before: try parameters.cursor(of: "an audit entry"), limit: limit)
            return AuditPageResponse(entries: entries, next: entries.count == limit ? entries.last?.id : nil)
        }
        api.get("nodes/:id/processes") { request, context -> ProcessListResponse in
            try await self.topProcesses(try await self.requireNode(context), { request.uri.queryParameters[Substring($0)].map(String.init) })
        }
        api.get("nodes/:id/processes/:pid") { _, context -> ProcessInfoResponse in
            try await self.processInfo(try await self.requireNode(context), pid: context.parameters.get("pid").map { $0.removingPercentEncoding ?? $0 } ?? "")
        }
        api.get("nodes/:id/ets") { request, context -> ETSTableListResponse in
            let node = try await self.requireNode(context)
            let parameters = ListParameters(parameter: { request.uri.queryParameters[Substring($0)].map(String.init) })
            let sort = request.uri.queryParameters["sort"].map(String.init) ?? "memory"
            guard ["memory", "size"].contains(sort) else { throw NumbatError.badRequest("invalid_sort", "sort must be memory or size") }
            let tables = try await self.explore(node, "ets_tables", [.atom(Atom(sort)), .integer(try parameters.limit() ?? 50)])
            return ETSTableListResponse(node: node.id, sort: sort, tables: try Self.objects(tables, on: node).map(ETSTableListResponse.Table.init(fields:)))
        }
    }

    private func requireNode(_ context: NumbatRequestContext) async throws -> ManagedNode {
        try await requireNode(id: try context.parameters.require("id", as: UUID.self))
    }

    /// The managed node with `id`, or `node_not_found`.
    public func requireNode(id: UUID) async throws -> ManagedNode {
        guard let node = try await store.node(id: id) else {
            throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
        }
        return node
    }

    /// Checks `body` and calls it on `node` (audited, as `actor`): the REST rpc route's answer,
    /// and the MCP `rpc` tool's. The caller has checked that `actor` is an admin. `writtenArgs`
    /// are `body.args` as JSONSerialization read them from the request, which tells `2.0` (a
    /// float) from `2`; without them the decoded values are used, where a whole number is an integer.
    public func rpc(_ node: ManagedNode, _ body: RPCRequest, writtenArgs: [Any]? = nil, actor: String) async throws -> RPCResponse {
        let arguments = try Self.arguments(body, written: writtenArgs)
        guard !body.module.isEmpty, body.module.count <= Atom.maxLength, !body.function.isEmpty, body.function.count <= Atom.maxLength else {
            throw NumbatError.badRequest("invalid_function", "module and function must be atoms of 1 to 255 characters")
        }
        if let timeout = body.timeoutMs, !(1...Int(settings.maximumTimeout.components.seconds * 1000)).contains(timeout) {
            throw NumbatError.badRequest("invalid_timeout", "timeout_ms must be between 1 and \(settings.maximumTimeout.components.seconds * 1000)")
        }
        let called = try await call(node, Atom(body.module), Atom(body.function), arguments,
                                    timeout: body.timeoutMs.map { .milliseconds($0) }, actor: actor)
        return RPCResponse(result: Self.value(TermJSON.json(called.result)), erlang: called.result.erlangDescription,
                           auditID: called.audit.id, durationMs: called.audit.durationMilliseconds)
    }

    /// The node's top processes by `sort` (memory, reductions, message_queue_len), at most
    /// `limit`, as `parameter` gives them: the REST route's answer, and the MCP tool's.
    public func topProcesses(_ node: ManagedNode, _ parameter: @escaping (String) -> String?) async throws -> ProcessListResponse {
        let parameters = ListParameters(parameter: parameter)
        let sort = parameter("sort") ?? "memory"
        guard ["memory", "reductions", "message_queue_len"].contains(sort) else {
            throw NumbatError.badRequest("invalid_sort", "sort must be memory, reductions or message_queue_len")
        }
        let found = try await explore(node, "top", [.atom(Atom(sort)), .integer(try parameters.limit() ?? 20), .integer(settings.maxProcessScan)])
        return ProcessListResponse(node: node.id, sort: sort, processes: try Self.objects(found, on: node).map(ProcessListResponse.Process.init(fields:)))
    }

    /// One process's information (`pid` as `<0.1.0>` or `0.1.0`): the REST route's answer, and
    /// the MCP tool's.
    public func processInfo(_ node: ManagedNode, pid text: String) async throws -> ProcessInfoResponse {
        let pid = try Self.pid(text)
        let info = try await explore(node, "process", [.binary(Array(pid.utf8))])
        guard let process = Self.plain(info).objectValue else { throw Self.unexpected(info, from: node) }
        return ProcessInfoResponse(node: node.id, process: process)
    }

    /// The call's arguments: `args` (JSON form; `written`, when given, as the request wrote them)
    /// or `args_erlang` (a list in Erlang syntax), not both.
    static func arguments(_ body: RPCRequest, written: [Any]? = nil) throws -> [Term] {
        switch (body.args, body.argsErlang) {
        case (.some, .some):
            throw NumbatError.badRequest("invalid_arguments", "give args or args_erlang, not both")
        case (let args?, nil):
            do {
                if let written { return try written.map(TermJSON.term(from:)) }
                return try args.map { try TermJSON.term(from: foundationValue($0)) }
            } catch {
                throw NumbatError.badRequest("invalid_arguments", "args: \(error)")
            }
        case (nil, let text?):
            let parsed: Term
            do {
                parsed = try TermParser.parse(text)
            } catch {
                throw NumbatError.badRequest("invalid_arguments", "args_erlang: \(error)")
            }
            guard let list = parsed.listElements else {
                throw NumbatError.badRequest("invalid_arguments", "args_erlang must be a list of the arguments, e.g. [1, foo]")
            }
            return list
        case (nil, nil):
            return []
        }
    }

    /// The explorers' maps and lists as plain JSON: keys as strings, binaries as text, atoms as
    /// strings (undefined as null).
    static func plain(_ term: Term) -> JSONValue {
        switch term {
        case .map(let map):
            var object: [String: JSONValue] = [:]
            for (key, value) in map { object[key.atomValue?.name ?? key.erlangDescription] = plain(value) }
            return .object(object)
        case .list(let elements): return .array(elements.map(plain))
        case .binary(let bytes): return .string(String(decoding: bytes, as: UTF8.self))
        case .atom(let atom): return atom == .undefined ? .null : .string(atom.name)
        case .integer(let value): return .int(value)
        case .float(let value): return .double(value)
        default: return .string(term.erlangDescription)
        }
    }

    /// An explorer's list of maps (processes, tables) as JSON objects.
    static func objects(_ term: Term, on node: ManagedNode) throws -> [[String: JSONValue]] {
        guard let objects = plain(term).arrayValue?.map(\.objectValue), !objects.contains(where: { $0 == nil }) else {
            throw unexpected(term, from: node)
        }
        return objects.compactMap { $0 }
    }

    /// An agent that answered in a shape the server does not know (another agent version).
    static func unexpected(_ term: Term, from node: ManagedNode) -> NumbatError {
        NumbatError(.unavailable, "explorer_failed", "the explorer on \(node.name) answered in an unexpected shape: \(clipped(term.erlangDescription))")
    }

    /// `TermJSON`'s JSON (JSONSerialization's kinds of values) as a typed value for the answer.
    static func value(_ json: Any) -> JSONValue {
        switch json {
        case let flag as Bool: .bool(flag)
        case let number as Int: .int(number)
        case let number as Double: .double(number)
        case let text as String: .string(text)
        case let object as [String: Any]: .object(object.mapValues(value))
        case let array as [Any]: .array(array.map(value))
        default: .null
        }
    }

    /// A request's JSON value as JSONSerialization would give it, which `TermJSON` reads:
    /// numbers as `NSNumber`s that say whether they were booleans, integers or fractions.
    static func foundationValue(_ json: JSONValue) -> Any {
        switch json {
        case .null: NSNull()
        case .bool(let flag): NSNumber(value: flag)
        case .int(let number): NSNumber(value: number)
        case .double(let number): NSNumber(value: number)
        case .string(let text): text
        case .array(let elements): elements.map(foundationValue)
        case .object(let fields): fields.mapValues(foundationValue)
        }
    }
}

// NumbatAPI's types are the routes' bodies and answers; `allowedFields` keeps decoding strict.
extension RPCRequest: StrictJSONBody {}
extension RPCResponse: ResponseEncodable {}
extension AuditPageResponse: ResponseEncodable {}
extension ProcessListResponse: ResponseEncodable {}
extension ProcessInfoResponse: ResponseEncodable {}
extension ETSTableListResponse: ResponseEncodable {}
