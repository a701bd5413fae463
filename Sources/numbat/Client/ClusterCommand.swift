import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore

/// `numbat cluster`: the servers sharing the store, the nodes each manages, and their leases.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "List the servers of a Numbat cluster, their nodes and lease health.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let result = try await client.client().call("GET", "/api/cluster", as: ClusterResponse.self)
            if client.json { return try printJSON(result.data) }
            let cluster = result.value
            printTable(["SERVER", "NAME", "NODE NAME", "API", "ALIVE", "NODES", "EXPIRED LEASES", "HEARTBEAT"], cluster.servers.map { entry in
                [entry.server.id.uuidString.lowercased() + (entry.server.id == cluster.me ? " (this one)" : ""), entry.server.name,
                 entry.server.nodeName, entry.server.apiURL ?? "-", entry.alive ? "yes" : "NO", "\(entry.nodes.count)", "\(entry.expiredLeases)",
                 entry.server.heartbeatAt.formatted(.iso8601)]
            })
            if !cluster.unleasedNodes.isEmpty { print("\(cluster.unleasedNodes.count) node(s) held by no server") }
            if cluster.me == nil { print("one server on the embedded store: it manages every node") }
        }
    }
}
