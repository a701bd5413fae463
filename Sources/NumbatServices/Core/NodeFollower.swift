import Foundation
import NumbatCore

/// A change of a node as a service with per-node work sees it (a metrics collector, a log
/// collector, an alarm watcher, a command agent): the node manager's events reduced to the three
/// things such a service acts on.
enum NodeChange: Sendable, Equatable {
    /// The node is UP: start its worker. `wasDown` tells a reconnection from a first connection.
    case up(ManagedNode, wasDown: Bool)
    /// The node left UP (DOWN, STOPPED, ERROR): stop its worker, keep what it collected.
    case notUp(ManagedNode)
    /// The node is no longer managed: stop its worker and forget it.
    case removed(UUID)
    /// Another server of the cluster manages the node now: stop its worker here, keep its data,
    /// raise nothing (the node did not go DOWN).
    case released(UUID)

    /// The change an event means, if it is a node event.
    init?(_ event: NumbatEvent.Kind) {
        switch event {
        case .nodeStateChanged(let node, let from) where node.state == .up: self = .up(node, wasDown: from == .down)
        case .nodeStateChanged(let node, _): self = .notUp(node)
        case .nodeRemoved(let id, _): self = .removed(id)
        case .nodeAdded(let node) where node.state == .up: self = .up(node, wasDown: false)
        case .nodeAdopted(let node): self = .up(node, wasDown: false)
        case .nodeReleased(let id, _): self = .released(id)
        default: return nil
        }
    }
}

/// The one reader of node events for the services that start workers per UP node. It
/// subscribes before it looks at the store, then reports every node already UP, so a node that
/// comes UP while the service starts is reported at least once (workers start once per node:
/// `NodeWorkers`), and none is missed.
final class NodeFollower: Sendable {
    private let events = EventFollower()

    /// Hands each node change to `change` and every other event to `other`, in order.
    /// Nodes already UP are reported only if `manager` manages them here (in a cluster, the
    /// others' nodes are theirs).
    func follow(_ bus: EventBus, store: any NodeReader, manager: NodeManager,
                _ change: @escaping @Sendable (NodeChange) async -> Void,
                other: @escaping @Sendable (NumbatEvent.Kind) async -> Void = { _ in }) async throws
    {
        events.follow(bus) { event in
            if let node = NodeChange(event) { await change(node) } else { await other(event) }
        }
        let managed = manager.managedIDs
        for node in try await store.nodes() where node.state == .up && managed.contains(node.id) {
            await change(.up(node, wasDown: false))
        }
    }

    /// Stops reading after the event in hand, and waits for it.
    func stop() async { await events.stop() }
}
