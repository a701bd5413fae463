import Foundation

/// Something that happened, published on the `EventBus` for services and WebSocket clients.
/// `topic` groups events for subscription filters.
public struct NumbatEvent: Codable, Sendable, Equatable {
    public enum Kind: Codable, Sendable, Equatable {
        case nodeAdded(ManagedNode)
        case nodeStateChanged(node: ManagedNode, from: NodeState)
        case nodeRemoved(id: UUID, name: String)
        case familyCreated(NodeFamily)
        case familyRemoved(id: UUID, name: String)
    }

    public var kind: Kind
    public var time: Date

    public init(_ kind: Kind, time: Date = Date()) {
        self.kind = kind
        self.time = time
    }

    /// The subscription topic: `node` or `family`; later services add their own.
    public var topic: String {
        switch kind {
        case .nodeAdded, .nodeStateChanged, .nodeRemoved: "node"
        case .familyCreated, .familyRemoved: "family"
        }
    }

    /// The node the event is about, for per-node filters.
    public var nodeID: UUID? {
        switch kind {
        case .nodeAdded(let node), .nodeStateChanged(let node, _): node.id
        case .nodeRemoved(let id, _): id
        case .familyCreated, .familyRemoved: nil
        }
    }
}
