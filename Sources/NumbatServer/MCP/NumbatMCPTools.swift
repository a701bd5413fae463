import Foundation
import MCP
import NumbatAPI
import NumbatCore
import NumbatServices

/// The tools Numbat offers an assistant over MCP: read-only views of the nodes, alarms,
/// notifications, metric history and processes, and for admin callers the audited rpc. Each
/// tool answers with the REST route's own typed answer, made by the same service method, as
/// JSON text: what an assistant reads is what `numbat` and the dashboard read.
struct NumbatMCPTools: Sendable {
    let server: NumbatServer
    let identity: Identity

    /// One tool: its description for the assistant and the arguments it takes.
    struct Definition: Sendable {
        var name: String
        var description: String
        var properties: [String: Value]
        var required: [String] = []
        var adminOnly = false
        /// Answered only by the server holding the tool's `node` (its connection to the node):
        /// in a cluster of servers, a call arriving elsewhere is forwarded there, as the REST
        /// route is (`ClusterForwardingMiddleware`).
        var nodeBound = false

        var tool: Tool {
            Tool(name: name, description: description,
                 inputSchema: .object(["type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
                                       "additionalProperties": false]),
                 annotations: .init(readOnlyHint: !adminOnly, destructiveHint: adminOnly, idempotentHint: !adminOnly, openWorldHint: false))
        }
    }

    static func string(_ description: String) -> Value { ["type": "string", "description": .string(description)] }
    static func integer(_ description: String) -> Value { ["type": "integer", "description": .string(description)] }

    static let definitions: [Definition] = [
        Definition(name: "nodes", description: "The managed Erlang nodes and their states (UP, DOWN, ...), as GET /api/topo/nodes.",
                   properties: ["state": string("only nodes in this state: \(NodeState.allCases.map(\.rawValue).joined(separator: ", "))"), "family": string("only members of this family (id)")]),
        Definition(name: "alarms", description: "Alarms, newest first, as GET /api/alarms.",
                   properties: ["node": string("node id"), "family": string("family id"),
                                "state": string("active, new, acknowledged or cleared (comma-separated)"),
                                "severity": string("the least severe wanted"), "source": string("the alarm's source"),
                                "before": integer("cursor: the previous page's next"), "limit": integer("1 to 1000, default 100")]),
        Definition(name: "notifications", description: "Notifications from the nodes' logs, newest first, as GET /api/notifications.",
                   properties: ["node": string("node id"), "family": string("family id"), "severity": string("the least severe wanted"),
                                "from": string("RFC 3339 time or Unix seconds"), "to": string("RFC 3339 time or Unix seconds"),
                                "q": string("text to look for"), "before": integer("cursor: the previous page's next"),
                                "limit": integer("1 to 1000, default 100")]),
        Definition(name: "metric_history", description: "A node's stored metric history, as GET /api/metrics/nodes/{id}/series.",
                   properties: ["node": string("node id"), "metrics": string("metric names, comma-separated (see GET /api/metrics/catalog)"),
                                "from": string("RFC 3339, Unix seconds or a duration ago such as 1h (default: an hour ago)"),
                                "to": string("as from (default: now)"), "step": string("seconds or a duration such as 5m")],
                   required: ["node", "metrics"]),
        Definition(name: "top_processes", description: "A node's top processes, as GET /api/nodes/{id}/processes.",
                   properties: ["node": string("node id"), "sort": string("memory (default), reductions or message_queue_len"),
                                "limit": integer("1 to 1000, default 20")],
                   required: ["node"], nodeBound: true),
        Definition(name: "process_info", description: "One process's information, as GET /api/nodes/{id}/processes/{pid}.",
                   properties: ["node": string("node id"), "pid": string("<0.123.0> or 0.123.0")], required: ["node", "pid"],
                   nodeBound: true),
        Definition(name: "rpc", description: "Calls module:function(args) on a node, recorded in the audit log, as POST /api/nodes/{id}/rpc. Admin tokens only.",
                   properties: ["node": string("node id"), "module": string("module"), "function": string("function"),
                                "args": ["type": "array", "description": "the arguments in Numbat's JSON term form"],
                                "args_erlang": string("the arguments as an Erlang list, e.g. [1, foo]"),
                                "timeout_ms": integer("milliseconds, default 5000")],
                   required: ["node", "module", "function"], adminOnly: true, nodeBound: true),
    ]

    /// The tools this caller may use: rpc only for admins.
    var tools: [Tool] { Self.definitions.filter { !$0.adminOnly || identity.role == .admin }.map(\.tool) }

    /// Runs a tool. Numbat's errors (a bad argument, an unknown node, a refused rpc) are the
    /// tool's answer with `isError`, "code: message", so the assistant reads why; an unknown
    /// tool is a protocol error.
    func call(_ parameters: CallTool.Parameters) async throws -> CallTool.Result {
        guard let definition = Self.definitions.first(where: { $0.name == parameters.name }) else {
            throw MCPError.invalidParams("unknown tool \(parameters.name)")
        }
        do {
            if definition.adminOnly, identity.role != .admin {
                throw NumbatError(.forbidden, "forbidden", "the \(definition.name) tool needs an admin token")
            }
            let arguments = try MCPToolArguments(parameters.arguments, allowed: Set(definition.properties.keys), tool: definition.name)
            let data = try await answer(definition.name, arguments)
            return CallTool.Result(content: [.text(text: String(decoding: data, as: UTF8.self), annotations: nil, _meta: nil)], isError: false)
        } catch let error as NumbatError {
            return CallTool.Result(content: [.text(text: error.description, annotations: nil, _meta: nil)], isError: true)
        }
    }

    private func answer(_ tool: String, _ arguments: MCPToolArguments) async throws -> Data {
        let encoder = APICoding.encoder()
        switch tool {
        case "nodes":
            return try encoder.encode(try await server.topology.nodeList(arguments.text))
        case "alarms":
            return try encoder.encode(try await server.alarms.alarmPage(arguments.text))
        case "notifications":
            return try encoder.encode(try await server.notifications.notificationPage(arguments.text))
        case "metric_history":
            return try encoder.encode(try await server.metrics.nodeSeries(try arguments.node(), arguments.text))
        case "top_processes":
            let node = try await server.commands.requireNode(id: try arguments.node())
            return try encoder.encode(try await server.commands.topProcesses(node, arguments.text))
        case "process_info":
            let node = try await server.commands.requireNode(id: try arguments.node())
            return try encoder.encode(try await server.commands.processInfo(node, pid: arguments.text("pid") ?? ""))
        case "rpc":
            let node = try await server.commands.requireNode(id: try arguments.node())
            let body = try StrictJSON.decode(RPCRequest.self, from: try arguments.body(without: ["node"]))
            return try encoder.encode(try await server.commands.rpc(node, body, actor: identity.name))
        default:
            throw MCPError.invalidParams("unknown tool \(tool)")
        }
    }
}
