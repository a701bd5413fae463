import Foundation
import NumbatCore

/// One managed node's life as the node manager sees it (seed 4.1.4): the only place that
/// decides a node's state. Pure: events go in, directives come out, and the node manager's shell
/// (`NodeSupervisor`) carries them out in order — stores, publishes, connects, waits.
///
///     added by hand:  probed -> UP
///     deployed:       planned -> UNINIT -> STOPPED (deployment steps) -> managed -> DOWN -> UP
///     managed:        UP -lost-> DOWN (reconnect at once) -failed-> DOWN, retry after a delay
///     any:            unmanaged (connection closed, state kept), removed
public struct NodeLifecycle: Sendable, Equatable {
    /// What the manager is doing with the node.
    public enum Phase: Sendable, Equatable {
        /// Known to the manager but not yet stored (being added or planned).
        case new
        /// Stored, not connected by the manager: a deployment's (UNINIT, STOPPED, ERROR) or
        /// unmanaged.
        case idle
        /// A connection attempt (connect, then read the node's info) is running.
        case connecting
        /// Connected; the node's automatic family is being looked up.
        case filing(NodeInfo)
        case up
        /// DOWN; a retry is scheduled.
        case waiting
        case removed
    }

    public enum Event: Sendable, Equatable {
        /// A node added by hand, connected and probed, with its family chosen.
        case probed(ManagedNode)
        /// A node deployment is about to create (UNINIT).
        case planned(ManagedNode)
        /// A stored node, when the server starts.
        case restored
        /// A node this server takes over from another server of the cluster (its lease expired
        /// or was handed over): reconnected without first marking it DOWN, so a hand-over
        /// between two live servers is not seen as an outage.
        case adopted
        /// Start managing the connection (a deployed node's release was started).
        case managed
        case connected(NodeInfo)
        /// The family the node belongs to after `fileInFamily` (nil: it has none to move to).
        case filed(familyID: UUID?)
        case connectFailed(reason: String)
        case lost(reason: String)
        /// The delay after a failed attempt is over.
        case retry
        case deploymentStep(NodeState, message: String?)
        case renamed(name: String, host: String)
        case unmanaged
        case removed
    }

    public enum Directive: Sendable, Equatable {
        /// Store a new node (with the cookie the shell holds).
        case insert(ManagedNode)
        case store(ManagedNode)
        case delete
        case publish(NumbatEvent.Kind)
        /// Start a connection attempt; it ends in `connected` or `connectFailed`.
        case connect
        /// The node's boot script changed: find its automatic family (a deployment family keeps
        /// its nodes), then hand back `filed`.
        case fileInFamily(NodeInfo)
        /// Send `retry` after the delay.
        case retry(after: Duration)
        /// Stop any attempt or timer and close the connection.
        case disconnect
    }

    public private(set) var node: ManagedNode
    public private(set) var phase: Phase
    private var schedule: ReconnectSchedule
    /// A loss reported while an attempt was running: that attempt's connection is not to be trusted.
    private var lossDuringAttempt: String?

    public init(node: ManagedNode, schedule: ReconnectSchedule, phase: Phase = .new) {
        self.node = node
        self.phase = phase
        self.schedule = schedule
    }

    /// Whether the manager holds (or is trying to hold) a connection to the node.
    public var isManaged: Bool {
        switch phase {
        case .connecting, .filing, .up, .waiting: true
        case .new, .idle, .removed: false
        }
    }

    public mutating func handle(_ event: Event, now: Date) -> [Directive] {
        switch (phase, event) {
        case (_, .removed):
            let wasManaged = isManaged
            phase = .removed
            return (wasManaged ? [.disconnect] : []) + [.delete, .publish(.nodeRemoved(id: node.id, name: node.name))]
        case (.removed, _):
            return []

        case (.new, .probed(let added)):
            node = added
            node.state = .up
            phase = .up
            schedule.reset()
            var directives: [Directive] = [.insert(node), .publish(.nodeStateChanged(node: node, from: .uninit))]
            if let reason = lossDuringAttempt {
                lossDuringAttempt = nil
                directives += lose(reason, now: now)
            }
            return directives
        case (.new, .lost(let reason)):
            lossDuringAttempt = reason
            return []
        case (.new, .planned(let planned)):
            node = planned
            phase = .idle
            return [.insert(node), .publish(.nodeAdded(node))]

        case (.idle, .restored) where node.state == .up:
            // UP when the server last ran; nobody knows until it is reconnected.
            node.state = .down
            node.lastError = "not reconnected since the server started"
            node.stateChangedAt = now
            return [.store(node)] + startAttempt()
        case (.idle, .restored) where node.state == .down:
            return startAttempt()
        case (.idle, .restored):
            return []
        case (.idle, .adopted) where node.state == .up || node.state == .down:
            return startAttempt()
        case (_, .adopted):
            return []

        case (.idle, .managed):
            var directives = transition(to: .down, reason: nil, now: now)
            directives += startAttempt()
            return directives
        case (_, .managed):
            return []

        case (.connecting, .connected(let info)):
            if let reason = lossDuringAttempt {
                lossDuringAttempt = nil
                return fail(reason, now: now)
            }
            if node.bootScript != info.bootScript || node.familyID == nil {
                phase = .filing(info)
                return [.fileInFamily(info)]
            }
            return becomeUp(info, familyID: node.familyID, now: now)
        case (.filing(let info), .filed(let familyID)):
            return becomeUp(info, familyID: familyID ?? node.familyID, now: now)
        case (.connecting, .connectFailed(let reason)), (.filing, .connectFailed(let reason)):
            return fail(reason, now: now)
        case (.connecting, .lost(let reason)), (.filing, .lost(let reason)):
            lossDuringAttempt = reason
            return []
        case (.up, .lost(let reason)):
            return lose(reason, now: now)
        case (.waiting, .retry):
            return startAttempt()

        case (.idle, .deploymentStep(let state, let message)), (.new, .deploymentStep(let state, let message)):
            guard state == .uninit || state == .stopped || state == .error else { return [] }
            let reason = state == .error ? message : nil
            guard node.state != state || node.lastError != reason else { return [] }
            return transition(to: state, reason: reason, now: now)
        case (_, .deploymentStep):
            // UP and DOWN are the manager's while it manages the node.
            return []

        case (_, .renamed(let name, let host)):
            node.name = name
            node.host = host
            return phase == .new ? [] : [.store(node)]

        case (.connecting, .unmanaged), (.filing, .unmanaged), (.up, .unmanaged), (.waiting, .unmanaged):
            phase = .idle
            lossDuringAttempt = nil
            return [.disconnect, .publish(.nodeReleased(id: node.id, name: node.name))]

        default:
            // Late reports of attempts and timers that no longer matter (an attempt that ends
            // after the node was unmanaged, a loss of a node not connected).
            return []
        }
    }

    private mutating func startAttempt() -> [Directive] {
        phase = .connecting
        lossDuringAttempt = nil
        return [.connect]
    }

    private mutating func becomeUp(_ info: NodeInfo, familyID: UUID?, now: Date) -> [Directive] {
        let wasUp = node.state == .up
        node.otpRelease = info.otpRelease
        node.bootScript = info.bootScript
        node.familyID = familyID
        phase = .up
        schedule.reset()
        // Stored UP already: a node taken over from another server, now managed here.
        return transition(to: .up, reason: nil, now: now) + (wasUp ? [.publish(.nodeAdopted(node))] : [])
    }

    /// A managed connection went: DOWN, and try again at once.
    private mutating func lose(_ reason: String, now: Date) -> [Directive] {
        transition(to: .down, reason: reason, now: now) + startAttempt()
    }

    /// An attempt failed: DOWN (the reason is stored even when the state does not change), and
    /// try again after the schedule's delay.
    private mutating func fail(_ reason: String, now: Date) -> [Directive] {
        phase = .waiting
        return transition(to: .down, reason: reason, now: now) + [.retry(after: schedule.nextDelay())]
    }

    /// Stores the node in `state`; publishes only a change of state, so repeated failures while
    /// DOWN are stored (their reason may change) but not announced again.
    private mutating func transition(to state: NodeState, reason: String?, now: Date) -> [Directive] {
        let previous = node.state
        if previous != state { node.stateChangedAt = now }
        node.state = state
        node.lastError = reason
        var directives: [Directive] = [.store(node)]
        if previous != state { directives.append(.publish(.nodeStateChanged(node: node, from: previous))) }
        return directives
    }
}
