import Foundation

/// Something that happened, published on the `EventBus` for services and WebSocket clients.
/// `topic` groups events for subscription filters.
public struct NumbatEvent: Codable, Sendable, Equatable {
    public enum Kind: Codable, Sendable, Equatable {
        case nodeAdded(ManagedNode)
        case nodeStateChanged(node: ManagedNode, from: NodeState)
        case nodeRemoved(id: UUID, name: String)
        /// This server took the node over from another server of the cluster and is connected
        /// to it (it was UP before and is UP still: no state change, a new manager).
        case nodeAdopted(ManagedNode)
        /// This server let go of the node (handed over to another server, or stopped managing
        /// it); its state is unchanged.
        case nodeReleased(id: UUID, name: String)
        case familyCreated(NodeFamily)
        case familyRemoved(id: UUID, name: String)
        /// An agent could not be injected or started; the service fell back to what it can do
        /// without it (`fallback`).
        case agentUnavailable(node: ManagedNode, agent: String, reason: String, fallback: String)
        /// A notification was stored (a node's log event, or one of Numbat's own).
        case notification(NodeNotification)
        /// An alarm was raised, raised again, acknowledged, commented on or cleared.
        case alarm(AlarmChange)
        /// A deployed node moved on a step (or a node action did).
        case deployment(DeploymentProgress)
        /// A trace session started, or one of its nodes' parts ended (the session with the last).
        case traceSession(TraceSession)
        /// Events a trace session kept, from one node, in the order they happened.
        case traceEvents(session: UUID, node: UUID, events: [TraceEvent])
        /// A rolling upgrade moved on (a node's phase, or the whole upgrade's state).
        case upgrade(UpgradeProgress)
    }

    public var kind: Kind
    public var time: Date

    public init(_ kind: Kind, time: Date = Date()) {
        self.kind = kind
        self.time = time
    }

    /// The subscription topic (`EventTopic` lists them all).
    public var topic: EventTopic {
        switch kind {
        case .nodeAdded, .nodeStateChanged, .nodeRemoved, .nodeAdopted, .nodeReleased: .node
        case .familyCreated, .familyRemoved: .family
        case .agentUnavailable: .agent
        case .notification: .notification
        case .alarm: .alarm
        case .deployment, .upgrade: .deployment
        case .traceSession, .traceEvents: .trace
        }
    }

    /// The node the event is about, for per-node filters.
    public var nodeID: UUID? {
        switch kind {
        case .nodeAdded(let node), .nodeStateChanged(let node, _), .agentUnavailable(let node, _, _, _), .nodeAdopted(let node): node.id
        case .nodeRemoved(let id, _), .nodeReleased(let id, _): id
        case .notification(let notification): notification.nodeID
        case .alarm(let change): change.alarm.nodeID
        case .deployment(let progress): progress.nodeID
        case .traceEvents(_, let node, _): node
        case .upgrade(let progress): progress.nodeID
        case .familyCreated, .familyRemoved, .traceSession: nil
        }
    }
}
