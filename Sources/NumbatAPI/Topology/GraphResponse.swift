import Foundation
import NumbatCore

/// `GET /api/topo/graph`: the managed nodes and the connections each UP node reports
/// (`erlang:nodes/1`, visible and hidden, less Numbat itself). Peers that are not managed
/// appear with `managed: false` and no id or state.
public struct GraphResponse: Codable, Sendable, Equatable {
    public struct Vertex: Codable, Sendable, Equatable {
        public var id: UUID?
        public var name: String
        public var state: NodeState?
        public var managed: Bool

        public init(id: UUID?, name: String, state: NodeState?, managed: Bool) {
            self.id = id
            self.name = name
            self.state = state
            self.managed = managed
        }
    }

    /// One link, whichever end reported it.
    public struct Edge: Codable, Sendable, Equatable, Hashable {
        public var from: String
        public var to: String

        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }
    }

    public var nodes: [Vertex]
    public var edges: [Edge]

    public init(nodes: [Vertex], edges: [Edge]) {
        self.nodes = nodes
        self.edges = edges
    }
}
