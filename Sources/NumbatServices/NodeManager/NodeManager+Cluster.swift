import Foundation
import NumbatCore

/// What the cluster service asks of the node manager when servers share one database: take over
/// the nodes whose leases this server got, and let go of the ones it hands over. Only the lease
/// holder connects to a node or runs work on it (`NodeJobs`), so a node never has two managers.
extension NodeManager {
    /// Takes over `ids` as stored now (another server may have changed them since this one last
    /// looked), read in one query however many there are (a failover hands over thousands).
    /// Every one gets a fresh lifecycle from its stored row, whatever its state: the lifecycle
    /// reconnects an UP or DOWN node without first marking it DOWN (`NodeLifecycle.adopted`)
    /// and leaves a deployment's node (UNINIT, STOPPED, ERROR) alone, and the row it starts
    /// from is the one the previous holder wrote (this server's copy may be long out of date: a
    /// deployment renames its node and moves it through its states). When this returns, each
    /// adopted node counts as managed (`managedIDs`): the lease planner must not see it as a
    /// stray and take it over twice.
    /// Then the node's unfinished work comes with it (`NodeJobs.takeOver`): a deployment or node
    /// action cut short by the server that held the node is resumed here, never left in its
    /// step for ever.
    public func adopt(_ ids: [UUID]) async {
        guard !ids.isEmpty else { return }
        let stored: [(node: ManagedNode, credentials: NodeCredentials)]
        do {
            stored = try await store.nodesWithCredentials(ids)
        } catch {
            logger.error("cannot take over nodes", metadata: ["nodes": "\(ids.count)", "error": "\(error)"])
            return
        }
        var adopted: [UUID] = []
        for (node, credentials) in stored {
            let supervisor = await replaceIdle(with: NodeLifecycle(node: node, schedule: schedule, phase: .idle), credentials: credentials)
            // Handled before the next: the lifecycle only starts a connection attempt.
            try? await supervisor?.send(.adopted)
            adopted.append(node.id)
        }
        guard !adopted.isEmpty else { return }
        let handler = jobs.withLockedValue { state -> (any NodeJobs)? in
            if state.handler == nil { state.pending.formUnion(adopted) }
            return state.handler
        }
        await handler?.takeOver(adopted)
    }

    /// Lets go of `ids`: their connections close, their work here stops at its next safe point
    /// (`NodeJobs.handOver`), and they stay stored as they are, for the server that takes them
    /// next. Connections close a few dozen at a time: a hand-over of thousands of nodes must
    /// not take as many round trips one after the other.
    public func release(_ ids: [UUID]) async {
        await withTaskGroup(of: Void.self) { group in
            for (index, id) in ids.enumerated() {
                if index >= Self.releaseConcurrency { await group.next() }
                group.addTask { await self.unmanage(id) }
            }
        }
        let handler = jobs.withLockedValue { state -> (any NodeJobs)? in
            state.pending.subtract(ids)
            return state.handler
        }
        handler?.handOver(ids)
    }

    /// How many nodes `release` lets go of at once.
    static let releaseConcurrency = 32

    /// The nodes this server holds a connection to (or is trying to), and those whose work runs
    /// here (a deployment's node before it is UP is this server's too: its lease is claimed and
    /// kept, and lost or given up like a connected node's).
    public var managedIDs: Set<UUID> {
        let connected = Set(supervisors.filter(\.isManaged).map(\.id))
        guard let handler = jobs.withLockedValue({ $0.handler }) else { return connected }
        return connected.union(handler.runningNodes)
    }

    /// The nodes connected and UP here now. Not the store's UP: a node stored UP when the server
    /// last ran, or taken over UP from another server, is stored UP before it is reconnected.
    public var upNodes: [ManagedNode] {
        supervisors.compactMap(\.nodeIfUp)
    }

    /// Attaches the per-node work of another service (orchestration) and hands it the nodes that
    /// are this server's now: every stored node for a lone server (whose work cut short by a
    /// restart is resumed), the nodes adopted so far in a cluster. From then on adopted nodes go
    /// to it as they come (`adopt`), and released ones are handed over (`release`).
    public func attach(_ handler: any NodeJobs) async {
        let (restoring, pending) = jobs.withLockedValue { state -> (Bool, Set<UUID>) in
            state.handler = handler
            defer { state.pending = [] }
            return (state.restoring, state.pending)
        }
        let ids = restoring ? supervisors.map(\.id) : Array(pending)
        if !ids.isEmpty { await handler.takeOver(ids) }
    }

    /// Detaches it again (the service stopped): nothing more is handed to it.
    public func detachJobs() {
        jobs.withLockedValue { $0.handler = nil }
    }
}
