import ArgumentParser
import Foundation
import NumbatAPI

/// `numbat node rpc NODE MODULE FUNCTION [ARGS...]`: a remote call through the server, which
/// records it in the audit log (`numbat rpc` calls a node directly, with its cookie, unaudited).
struct NodeRPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Call MODULE:FUNCTION(ARGS...) on a managed node through the server (admin, audited).",
        discussion: "Each ARG is one Erlang term: numbat node rpc app@127.0.0.1 lists reverse '[1,2,3]'")

    @Argument(help: "The node (id or name).") var node: String
    @Argument(help: "Module name.") var module: String
    @Argument(help: "Function name.") var function: String
    @Argument(help: "Arguments, one Erlang term each.") var arguments: [String] = []
    @Option(help: "Milliseconds to wait for the answer (at most 60000).") var timeoutMs = 5000
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            let id = try await resolveNode(node, with: api)
            let body = RPCRequest(module: module, function: function, argsErlang: "[" + arguments.joined(separator: ", ") + "]", timeoutMs: timeoutMs)
            let answer = try await api.call("POST", "/api/nodes/\(id)/rpc", body: body, as: RPCResponse.self)
            if client.json { return try printJSON(answer.data) }
            print(answer.value.erlang)
        }
    }
}

/// `numbat top NODE`: the node's busiest processes by memory, reductions or queue length.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "A node's top processes by memory, reductions or message queue length.")

    @Argument(help: "The node (id or name).") var node: String
    @Option(help: "memory, reductions or message_queue_len.") var sort = "memory"
    @Option(help: "How many processes (1-1000).") var limit = 20
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            let id = try await resolveNode(node, with: api)
            let answer = try await api.call("GET", "/api/nodes/\(id)/processes?sort=\(sort)&limit=\(limit)", as: ProcessListResponse.self)
            if client.json { return try printJSON(encoding: answer.value.processes) }
            printTable(["PID", "NAME", "MEMORY", "REDUCTIONS", "QUEUE", "CURRENT", "INITIAL"], answer.value.processes.map { process in
                [process.pid, process.registeredName ?? "-", process.memory.map(String.init) ?? "", process.reductions.map(String.init) ?? "",
                 process.messageQueueLen.map(String.init) ?? "", process.currentFunction ?? "", process.initialCall ?? ""]
            })
        }
    }
}
