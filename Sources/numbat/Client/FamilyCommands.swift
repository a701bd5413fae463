import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore

/// `numbat family list|show|connectivity|...`: node families.
struct FamilyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "family", abstract: "List, show and manage node families.",
        subcommands: [List.self, Show.self, FamilyCreateCommand.self, FamilyReleaseCommand.self, FamilyFirewallCommand.self,
                      FamilyDomainCommand.self, FamilyTLSCommand.self, FamilyConnectivityCommand.self, FamilyDeleteCommand.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List node families.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let result = try await client.client().call("GET", "/api/topo/node_families", as: FamilyListResponse.self)
                if client.json { return try printJSON(result.data) }
                printTable(["ID", "NAME", "KIND", "NODES"], result.value.families.map { family in
                    [family.id.uuidString.lowercased(), family.name, family.kind.rawValue, "\(family.nodes.count)"]
                })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one node family and its nodes.")
        @Argument(help: "The family's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                let reply = try await api.call("GET", "/api/topo/node_families/\(id)", as: FamilyResponse.self)
                if client.json { return try printJSON(reply.data) }
                let family = reply.value
                let fields: [(String, String?)] = [
                    ("id", family.id.uuidString.lowercased()), ("name", family.name), ("kind", family.kind.rawValue), ("boot_script", family.bootScript),
                    ("node_selection", family.nodeSelection), ("bootstrap_strategy", family.bootstrapStrategy),
                    ("tls", family.tls ? "set (nodes without their own connect over TLS distribution)" : "-"),
                ]
                for (key, value) in fields {
                    print("\(key.padding(toLength: 19, withPad: " ", startingAt: 0)) \(value ?? "-")")
                }
                let members = Set(family.nodes)
                let nodes = try await api.call("GET", "/api/topo/nodes", as: NodeListResponse.self).value.nodes
                printNodes(nodes.filter { members.contains($0.id) })
            }
        }
    }
}
