import ErlangDist
import Foundation
import NumbatAPI
import NumbatCore

extension Topology {
    /// The managed nodes and the connections each UP node reports (`erlang:nodes/1`, visible
    /// and hidden, less Numbat itself). Peers that are not managed appear with `managed: false`.
    public func graph() async throws -> GraphResponse {
        let managed = try await store.nodes()
        var vertices = managed.map { GraphResponse.Vertex(id: $0.id, name: $0.name, state: $0.state, managed: true) }
        var names = Set(managed.map(\.name))
        var edges: Set<GraphResponse.Edge> = []
        let ourNames = Set(managed.compactMap { node in
            (try? NodeName(node.name)).map { nodes.local.localName(for: $0).description }
        })
        for node in managed where node.state == .up {
            guard let reply = try? await nodes.rpc(node, "erlang", "nodes", [.list([.atom("visible"), .atom("hidden")])]) else { continue }
            for peer in (reply.listElements ?? []).compactMap({ $0.atomValue?.name }) where !ourNames.contains(peer) {
                // Each link once, whichever end reported it.
                edges.insert(node.name < peer ? GraphResponse.Edge(from: node.name, to: peer) : GraphResponse.Edge(from: peer, to: node.name))
                if names.insert(peer).inserted {
                    vertices.append(GraphResponse.Vertex(id: nil, name: peer, state: nil, managed: false))
                }
            }
        }
        return GraphResponse(nodes: vertices, edges: edges.sorted { ($0.from, $0.to) < ($1.from, $1.to) })
    }
}
