import Foundation
import MCP
@testable import NumbatServer
import NumbatCore
import Testing

/// The pure part of the MCP tools: arguments read as query-string text, unknown arguments
/// refused, node ids checked, and which tools each role is offered.
@Suite("MCP tool arguments")
struct MCPToolArgumentsTests {
    @Test("the endpoint takes one JSON-RPC 2.0 request or notification as the document describes it, and refuses other bodies")
    func messageShape() {
        let valid = [#"{"jsonrpc":"2.0","method":"tools/list","id":1}"#, #"{"jsonrpc":"2.0","method":"initialize","id":"a","params":{}}"#,
                     #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#]
        for body in valid { #expect(MCPEndpoint.invalidMessage(Data(body.utf8)) == nil, "\(body)") }
        let invalid = [#"{}"#, #"[]"#, #"not json"#, #"{"method":"tools/list","id":1}"#, #"{"jsonrpc":"1.0","method":"x","id":1}"#,
                       #"{"jsonrpc":"2.0","method":"","id":1}"#, #"{"jsonrpc":"2.0","method":"x","id":true}"#,
                       #"{"jsonrpc":"2.0","method":"x","id":null}"#, #"{"jsonrpc":"2.0","method":"x","id":1.5}"#,
                       #"{"jsonrpc":"2.0","method":"x","id":1,"params":[1]}"#]
        for body in invalid { #expect(MCPEndpoint.invalidMessage(Data(body.utf8)) != nil, "\(body)") }
    }

    @Test("in a cluster, only calls of the node-bound tools (the explorers, rpc) with a node id go to the node's holder")
    func nodeBound() {
        let id = UUID()
        func call(_ tool: String, _ arguments: String) -> Data {
            Data(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\#(tool)","arguments":\#(arguments)}}"#.utf8)
        }
        for tool in ["rpc", "top_processes", "process_info"] {
            #expect(MCPEndpoint.nodeBoundTarget(call(tool, #"{"node":"\#(id.uuidString.lowercased())","pid":"<0.1.0>"}"#)) == id, "\(tool)")
        }
        #expect(Set(NumbatMCPTools.definitions.filter(\.nodeBound).map(\.name)) == ["rpc", "top_processes", "process_info"])
        let local = [call("metric_history", #"{"node":"\#(id.uuidString)","metrics":"x"}"#), call("nodes", "{}"), call("rpc", #"{"node":"nonsense"}"#),
                     call("rpc", "{}"), Data(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.utf8), Data("not json".utf8),
                     Data(#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"rpc","arguments":{"node":"\#(id.uuidString)"}}}"#.utf8)]
        for body in local { #expect(MCPEndpoint.nodeBoundTarget(body) == nil, "\(String(decoding: body, as: UTF8.self))") }
    }

    @Test("scalars read as the query string would carry them; null and absent are nil")
    func text() throws {
        let arguments = try MCPToolArguments(["limit": 5, "q": "boom", "ratio": 0.5, "flag": true, "none": nil],
                                             allowed: ["limit", "q", "ratio", "flag", "none", "node"], tool: "t")
        #expect(arguments.text("limit") == "5" && arguments.text("q") == "boom" && arguments.text("ratio") == "0.5")
        #expect(arguments.text("flag") == "true" && arguments.text("none") == nil && arguments.text("node") == nil)
    }

    @Test("an argument the tool does not take is refused by name; node must be a node id")
    func refusals() throws {
        #expect(throws: NumbatError.badRequest("unknown_argument", "alarms takes no argument stat (it takes limit, state)")) {
            try MCPToolArguments(["stat": "active"], allowed: ["state", "limit"], tool: "alarms")
        }
        let missing = try MCPToolArguments([:], allowed: ["node"], tool: "t")
        #expect(throws: NumbatError.badRequest("missing_argument", "node (a node id) is required")) { try missing.node() }
        let bad = try MCPToolArguments(["node": "n1@host"], allowed: ["node"], tool: "t")
        #expect(throws: NumbatError.badRequest("invalid_node", "node must be a node id")) { try bad.node() }
        let id = UUID()
        #expect(try MCPToolArguments(["node": .string(id.uuidString)], allowed: ["node"], tool: "t").node() == id)
    }

    @Test("rpc is the only tool that is not read-only, and the only one a viewer is not offered")
    func roles() {
        let readOnly = NumbatMCPTools.definitions.filter { !$0.adminOnly }.map(\.name)
        #expect(readOnly == ["nodes", "alarms", "notifications", "metric_history", "top_processes", "process_info"])
        #expect(NumbatMCPTools.definitions.filter(\.adminOnly).map(\.name) == ["rpc"])
        for definition in NumbatMCPTools.definitions {
            #expect(definition.tool.annotations.readOnlyHint == !definition.adminOnly, "\(definition.name)")
            #expect(definition.required.allSatisfy { definition.properties[$0] != nil }, "\(definition.name)")
        }
    }
}
