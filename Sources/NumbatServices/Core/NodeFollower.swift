import Foundation
import NIOConcurrencyHelpers
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
/// taps the bus before it asks the node manager, then reports every node UP now, so a node that
/// comes UP while the service starts is reported at least once (workers start once per node:
/// `NodeWorkers`), and none is missed. "UP now" is the node manager's, connected: the store's
/// state is not, since a node stored UP by the server's previous run (or by the server it is
/// taken over from) is still being reconnected. A worker started for such a node found no
/// connection, fell back (the metrics agent to polling for a whole interval, the log and alarm
/// agents for good), and its node's UP event then found a worker already there: after a
/// restart every node waited about 60 s for its metrics agent.
final class NodeFollower: Sendable {
    private struct Following {
        var bus: EventBus
        var tap: UInt64
        var changes: AsyncStream<NodeChange>.Continuation
        var task: Task<Void, Never>
    }

    private let following = NIOLockedValueBox<Following?>(nil)
    private let others = EventFollower()

    /// Hands each node change to `change`, in order, and every other event to `other`.
    /// Nodes already UP are those `manager` holds connected here (in a cluster, the others'
    /// nodes are theirs); they are handed over before `follow` returns.
    ///
    /// Node changes are never dropped: they come from a tap on the bus into a buffer of their
    /// own, as many as there are node transitions. The bus's buffered subscription loses a slow
    /// reader's oldest events, and a restart of 10,000 nodes publishes 10,000 UP events at once:
    /// the services lost thousands and never started those nodes' agents. Other events (only
    /// notifications reads them, for alarms) keep the bus's bounded buffer.
    func follow(_ bus: EventBus, manager: NodeManager,
                _ change: @escaping @Sendable (NodeChange) async -> Void,
                other: (@Sendable (NumbatEvent.Kind) async -> Void)? = nil) async
    {
        let (changes, continuation) = AsyncStream<NodeChange>.makeStream(bufferingPolicy: .unbounded)
        let tap = bus.tap { event in
            if let node = NodeChange(event.kind) { continuation.yield(node) }
        }
        if let other {
            others.follow(bus) { event in
                if NodeChange(event) == nil { await other(event) }
            }
        }
        // After the tap: a node that comes UP from here on is in the stream too (its worker
        // starts once all the same: `NodeWorkers`).
        for node in manager.upNodes {
            await change(.up(node, wasDown: false))
        }
        let task = Task {
            for await node in changes {
                if Task.isCancelled { return }
                // In a task of its own, which stopping does not cancel: a change being handled
                // (a removed node's history being deleted) is handled to the end.
                await Task { await change(node) }.value
            }
        }
        following.withLockedValue { $0 = Following(bus: bus, tap: tap, changes: continuation, task: task) }
    }

    /// Stops reading after the change in hand, and waits for it.
    func stop() async {
        guard let current = following.withLockedValue({ state -> Following? in
            defer { state = nil }
            return state
        }) else {
            await others.stop()
            return
        }
        current.bus.untap(current.tap)
        current.changes.finish()
        current.task.cancel()
        await current.task.value
        await others.stop()
    }
}
