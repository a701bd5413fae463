import ArgumentParser
import Foundation

/// `numbat family list|show`: node families.
struct FamilyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "family", abstract: "List, show and manage node families.",
        subcommands: [List.self, Show.self, FamilyCreateCommand.self, FamilyReleaseCommand.self, FamilyFirewallCommand.self,
                      FamilyDomainCommand.self, FamilyDeleteCommand.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List node families.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let result = try await client.client().json("GET", "/api/topo/node_families")
                if client.json { return try printJSON(result) }
                printTable(["ID", "NAME", "KIND", "NODES"], (result["families"] as? [[String: Any]] ?? []).map { family in
                    [family["id"] as? String ?? "", family["name"] as? String ?? "", family["kind"] as? String ?? "",
                     "\((family["nodes"] as? [Any])?.count ?? 0)"]
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
                let family = try await api.json("GET", "/api/topo/node_families/\(id)")
                if client.json { return try printJSON(family) }
                for key in ["id", "name", "kind", "boot_script", "node_selection", "bootstrap_strategy"] {
                    print("\(key.padding(toLength: 19, withPad: " ", startingAt: 0)) \(family[key].map { "\($0)" } ?? "-")")
                }
                let members = Set(family["nodes"] as? [String] ?? [])
                let nodes = try await api.json("GET", "/api/topo/nodes")["nodes"] as? [[String: Any]] ?? []
                printNodes(nodes.filter { members.contains($0["id"] as? String ?? "") })
            }
        }
    }
}
