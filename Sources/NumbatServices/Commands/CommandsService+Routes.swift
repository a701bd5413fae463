import ErlangTerm
import Foundation
import Hummingbird
import NumbatCore

/// `POST /api/nodes/{id}/rpc` (admin only, audited), `GET /api/audit`, and the explorers:
/// `GET /api/nodes/{id}/processes`, `.../processes/{pid}`, `.../ets`.
extension CommandsService {
    struct CallRequest: StrictJSONBody {
        var module: String
        var function: String
        /// Arguments in the JSON form of terms (`TermJSON`), as raw JSON.
        var args: [JSONValue]?
        /// Or the arguments in Erlang syntax, as one list: `[1, foo, {bar, <<"x">>}]`.
        var argsErlang: String?
        var timeoutMs: Int?
        static let allowedFields: Set<String> = ["module", "function", "args", "args_erlang", "timeout_ms"]

        enum CodingKeys: String, CodingKey {
            case module, function, args
            case argsErlang = "args_erlang"
            case timeoutMs = "timeout_ms"
        }
    }

    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("nodes/:id/rpc") { request, context -> Response in
            try context.requireAdmin()
            let node = try await self.requireNode(context)
            let body = try await request.decodeStrict(as: CallRequest.self, context: context)
            let arguments = try Self.arguments(body)
            guard !body.module.isEmpty, body.module.count <= Atom.maxLength, !body.function.isEmpty, body.function.count <= Atom.maxLength else {
                throw NumbatError.badRequest("invalid_function", "module and function must be atoms of 1 to 255 characters")
            }
            if let timeout = body.timeoutMs, !(1...Int(self.settings.maximumTimeout.components.seconds * 1000)).contains(timeout) {
                throw NumbatError.badRequest("invalid_timeout", "timeout_ms must be between 1 and \(self.settings.maximumTimeout.components.seconds * 1000)")
            }
            let called = try await self.call(node, Atom(body.module), Atom(body.function), arguments,
                                             timeout: body.timeoutMs.map { .milliseconds($0) }, actor: context.identity?.name ?? "unknown")
            return try Self.jsonResponse(["result": TermJSON.json(called.result), "erlang": called.result.erlangDescription,
                                          "audit_id": called.audit.id, "duration_ms": called.audit.durationMilliseconds])
        }
        api.get("audit") { request, _ -> AuditPage in
            let parameters = ListParameters(parameter: { request.uri.queryParameters[Substring($0)].map(String.init) })
            let limit = try parameters.limit() ?? 100
            let entries = try await self.audit.auditEntries(node: try await parameters.nodes(in: self.store)?.first,
                                                            before: try parameters.cursor(of: "an audit entry"), limit: limit)
            return AuditPage(entries: entries, next: entries.count == limit ? entries.last?.id : nil)
        }
        api.get("nodes/:id/processes") { request, context -> Response in
            let node = try await self.requireNode(context)
            let parameters = ListParameters(parameter: { request.uri.queryParameters[Substring($0)].map(String.init) })
            let sort = request.uri.queryParameters["sort"].map(String.init) ?? "memory"
            guard ["memory", "reductions", "message_queue_len"].contains(sort) else {
                throw NumbatError.badRequest("invalid_sort", "sort must be memory, reductions or message_queue_len")
            }
            let found = try await self.explore(node, "top", [.atom(Atom(sort)), .integer(try parameters.limit() ?? 20), .integer(self.settings.maxProcessScan)])
            return try Self.jsonResponse(["node": node.id.uuidString.lowercased(), "sort": sort, "processes": Self.plain(found)])
        }
        api.get("nodes/:id/processes/:pid") { _, context -> Response in
            let node = try await self.requireNode(context)
            var pid = context.parameters.get("pid").map { $0.removingPercentEncoding ?? $0 } ?? ""
            if !pid.hasPrefix("<") { pid = "<\(pid)>" }
            let info = try await self.explore(node, "process", [.binary(Array(pid.utf8))])
            return try Self.jsonResponse(["node": node.id.uuidString.lowercased(), "process": Self.plain(info)])
        }
        api.get("nodes/:id/ets") { request, context -> Response in
            let node = try await self.requireNode(context)
            let parameters = ListParameters(parameter: { request.uri.queryParameters[Substring($0)].map(String.init) })
            let sort = request.uri.queryParameters["sort"].map(String.init) ?? "memory"
            guard ["memory", "size"].contains(sort) else { throw NumbatError.badRequest("invalid_sort", "sort must be memory or size") }
            let tables = try await self.explore(node, "ets_tables", [.atom(Atom(sort)), .integer(try parameters.limit() ?? 50)])
            return try Self.jsonResponse(["node": node.id.uuidString.lowercased(), "sort": sort, "tables": Self.plain(tables)])
        }
    }

    struct AuditPage: ResponseEncodable {
        var entries: [AuditEntry]
        var next: Int64?
    }

    private func requireNode(_ context: NumbatRequestContext) async throws -> ManagedNode {
        let id = try context.parameters.require("id", as: UUID.self)
        guard let node = try await store.node(id: id) else {
            throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
        }
        return node
    }

    /// The call's arguments: `args` (JSON form) or `args_erlang` (a list in Erlang syntax), not both.
    static func arguments(_ body: CallRequest) throws -> [Term] {
        switch (body.args, body.argsErlang) {
        case (.some, .some):
            throw NumbatError.badRequest("invalid_arguments", "give args or args_erlang, not both")
        case (let args?, nil):
            do {
                return try args.map { try TermJSON.term(from: $0.value) }
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
    static func plain(_ term: Term) -> Any {
        switch term {
        case .map(let map):
            var object: [String: Any] = [:]
            for (key, value) in map { object[key.atomValue?.name ?? key.erlangDescription] = plain(value) }
            return object
        case .list(let elements): return elements.map(plain)
        case .binary(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .atom(let atom): return atom == .undefined ? NSNull() : atom.name as Any
        case .integer(let value): return value
        case .float(let value): return value
        default: return term.erlangDescription
        }
    }

    static func jsonResponse(_ object: [String: Any]) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: data)))
    }
}

/// Any JSON value, decoded as JSONSerialization would give it (for the call's `args`).
struct JSONValue: Decodable, @unchecked Sendable {
    let value: Any

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { value = NSNull() }
        else if let bool = try? container.decode(Bool.self) { value = NSNumber(value: bool) }
        else if let int = try? container.decode(Int.self) { value = NSNumber(value: int) }
        else if let double = try? container.decode(Double.self) { value = NSNumber(value: double) }
        else if let string = try? container.decode(String.self) { value = string }
        else if let array = try? container.decode([JSONValue].self) { value = array.map(\.value) }
        else if let object = try? container.decode([String: JSONValue].self) { value = object.mapValues(\.value) }
        else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value") }
    }
}
