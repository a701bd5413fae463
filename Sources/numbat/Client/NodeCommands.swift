import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore

/// `numbat node add|list|show|remove`: managed nodes, through the server's REST API.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Add, list, show and remove managed nodes.",
        subcommands: [Add.self, List.self, Show.self, Remove.self, NodeTLSCommand.self, NodeRPCCommand.self,
                      NodeStartCommand.self, NodeStopCommand.self, NodeRestartCommand.self, NodeDeleteCommand.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Manage a running node (and, with --discover, the nodes it is connected to).")
        @Argument(help: "The node, e.g. app@127.0.0.1; app@host:9100 (app@[::1]:9100) for a node without EPMD.") var name: String
        @Option(help: "The node's cookie (default: $NUMBAT_COOKIE).") var cookie: String?
        @Option(help: "The distribution port of a node that runs without EPMD (-erl_epmd_port, ERL_DIST_PORT).") var port: Int?
        @Flag(help: "Also add every node it is connected to that shares the cookie, recursively.") var discover = false
        @OptionGroup var tls: TLSFileOptions
        @OptionGroup var client: ClientOptions

        func run() async throws {
            guard let cookie = cookie ?? ProcessInfo.processInfo.environment["NUMBAT_COOKIE"] else {
                throw ValidationError("pass --cookie or set NUMBAT_COOKIE")
            }
            let settings = try tls.credentials().map(TLSSettingsBody.init)
            try await runClient {
                let request = AddNodeRequest(node: name, cookie: cookie, discover: discover, port: port, tls: settings)
                let result = try await client.client().call("POST", "/api/actions/add-node", body: request, as: AddNodeResponse.self)
                if client.json { return try printJSON(result.data) }
                printNodes([result.value.node] + result.value.discovered)
                for skipped in result.value.skipped {
                    print("skipped \(skipped.name): \(skipped.reason)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List managed nodes.")
        @Option(help: "Only nodes in this state (UP, DOWN, ...).") var state: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let query = state.map { "?state=\($0)" } ?? ""
                let result = try await client.client().call("GET", "/api/topo/nodes" + query, as: NodeListResponse.self)
                if client.json { return try printJSON(result.data) }
                printNodes(result.value.nodes)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one node (by id or name).")
        @Argument(help: "The node's id or name.") var node: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                let id = try await resolveNode(node, with: api)
                let result = try await api.call("GET", "/api/topo/nodes/\(id)", as: ManagedNode.self)
                if client.json { return try printJSON(result.data) }
                let node = result.value
                let fields: [(String, String?)] = [
                    ("id", node.id.uuidString.lowercased()), ("name", node.name), ("state", node.state.rawValue), ("family_id", node.familyID?.uuidString.lowercased()),
                    ("host", node.host), ("port", node.port.map { "\($0) (no EPMD)" }), ("otp_release", node.otpRelease), ("boot_script", node.bootScript), ("last_error", node.lastError),
                    ("added_at", node.addedAt.formatted(.iso8601)), ("state_changed_at", node.stateChangedAt.formatted(.iso8601)),
                ]
                for (key, value) in fields {
                    print("\(key.padding(toLength: 17, withPad: " ", startingAt: 0)) \(value ?? "-")")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop managing a node (the node keeps running).")
        @Argument(help: "The node's id or name.") var node: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                let id = try await resolveNode(node, with: api)
                let result = try await api.call("DELETE", "/api/topo/nodes/\(id)", as: ManagedNode.self)
                if client.json { return try printJSON(result.data) }
                print("removed \(result.value.name)")
            }
        }
    }
}

/// A node id from an id or a name.
func resolveNode(_ text: String, with api: APIClient) async throws -> String {
    if UUID(uuidString: text) != nil { return text.lowercased() }
    let nodes = try await api.call("GET", "/api/topo/nodes", as: NodeListResponse.self).value.nodes
    guard let node = nodes.first(where: { $0.name == text }) else {
        throw APIClient.Failure(description: "no managed node is named \(text)")
    }
    return node.id.uuidString.lowercased()
}

func printNodes(_ nodes: [ManagedNode]) {
    printTable(["ID", "NAME", "STATE", "OTP", "FAMILY"], nodes.map { node in
        [node.id.uuidString.lowercased(), node.name, node.state.rawValue, node.otpRelease ?? "-", node.bootScript ?? "-"]
    })
}
