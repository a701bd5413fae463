import ArgumentParser
import Foundation

/// `numbat node add|list|show|remove`: managed nodes, through the server's REST API.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Add, list, show and remove managed nodes.",
        subcommands: [Add.self, List.self, Show.self, Remove.self, NodeRPCCommand.self,
                      NodeStartCommand.self, NodeStopCommand.self, NodeRestartCommand.self, NodeDeleteCommand.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Manage a running node (and, with --discover, the nodes it is connected to).")
        @Argument(help: "The node, e.g. app@127.0.0.1.") var name: String
        @Option(help: "The node's cookie (default: $NUMBAT_COOKIE).") var cookie: String?
        @Flag(help: "Also add every node it is connected to that shares the cookie, recursively.") var discover = false
        @OptionGroup var client: ClientOptions

        func run() async throws {
            guard let cookie = cookie ?? ProcessInfo.processInfo.environment["NUMBAT_COOKIE"] else {
                throw ValidationError("pass --cookie or set NUMBAT_COOKIE")
            }
            try await runClient {
                let result = try await client.client().json("POST", "/api/actions/add-node", body: ["node": name, "cookie": cookie, "discover": discover])
                if client.json { return try printJSON(result) }
                let added = [result["node"] as? [String: Any]].compactMap { $0 } + (result["discovered"] as? [[String: Any]] ?? [])
                printNodes(added)
                for skipped in result["skipped"] as? [[String: Any]] ?? [] {
                    print("skipped \(skipped["name"] as? String ?? "?"): \(skipped["reason"] as? String ?? "")")
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
                let result = try await client.client().json("GET", "/api/topo/nodes" + query)
                if client.json { return try printJSON(result) }
                printNodes(result["nodes"] as? [[String: Any]] ?? [])
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
                let result = try await api.json("GET", "/api/topo/nodes/\(id)")
                if client.json { return try printJSON(result) }
                for key in ["id", "name", "state", "family_id", "host", "otp_release", "boot_script", "last_error", "added_at", "state_changed_at"] {
                    print("\(key.padding(toLength: 17, withPad: " ", startingAt: 0)) \(result[key].map { "\($0)" } ?? "-")")
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
                let result = try await api.json("DELETE", "/api/topo/nodes/\(id)")
                if client.json { return try printJSON(result) }
                print("removed \(result["name"] as? String ?? node)")
            }
        }
    }
}

/// A node id from an id or a name.
func resolveNode(_ text: String, with api: APIClient) async throws -> String {
    if UUID(uuidString: text) != nil { return text.lowercased() }
    let nodes = try await api.json("GET", "/api/topo/nodes")["nodes"] as? [[String: Any]] ?? []
    guard let id = nodes.first(where: { $0["name"] as? String == text })?["id"] as? String else {
        throw APIClient.Failure(description: "no managed node is named \(text)")
    }
    return id
}

func printNodes(_ nodes: [[String: Any]]) {
    printTable(["ID", "NAME", "STATE", "OTP", "FAMILY"], nodes.map { node in
        [node["id"] as? String ?? "", node["name"] as? String ?? "", node["state"] as? String ?? "",
         node["otp_release"] as? String ?? "-", node["boot_script"] as? String ?? "-"]
    })
}
