import Foundation
import NumbatCore

/// What the cluster service asks of the node manager when servers share one database: take over
/// the nodes whose leases this server got, and let go of the ones it hands over. Only the lease
/// holder connects to a node or runs work on it (`NodeJobs`), so a node never has two managers.
extension NodeManager {
    /// Takes over `ids` as stored now (another server may have changed them since this one last
    /// looked). Every one gets a fresh lifecycle from its stored row, whatever its state: the
    /// lifecycle reconnects an UP or DOWN node without first marking it DOWN
    /// (`NodeLifecycle.adopted`) and leaves a deployment's node (UNINIT, STOPPED, ERROR) alone,
    /// and the row it starts from is the one the previous holder wrote (this server's copy may
    /// be long out of date: a deployment renames its node and moves it through its states).
    /// Then the node's unfinished work comes with it (`NodeJobs.takeOver`): a deployment or node
    /// action cut short by the server that held the node is resumed here, never left in its
    /// step for ever.
    public func adopt(_ ids: [UUID]) async {
        var adopted: [UUID] = []
        for id in ids {
            do {
                guard let node = try await store.node(id: id) else { continue }
                let cookie = try await store.cookie(forNode: id) ?? ""
                await replaceIdle(with: NodeLifecycle(node: node, schedule: schedule, phase: .idle), cookie: cookie)?.post(.adopted)
                adopted.append(id)
            } catch {
                logger.error("cannot take over a node", metadata: ["node": "\(id)", "error": "\(error)"])
            }
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
    /// next.
    public func release(_ ids: [UUID]) async {
        for id in ids { await unmanage(id) }
        let handler = jobs.withLockedValue { state -> (any NodeJobs)? in
            state.pending.subtract(ids)
            return state.handler
        }
        handler?.handOver(ids)
    }

    /// The nodes this server holds a connection to (or is trying to), and those whose work runs
    /// here (a deployment's node before it is UP is this server's too: its lease is claimed and
    /// kept, and lost or given up like a connected node's).
    public var managedIDs: Set<UUID> {
        let connected = Set(supervisors.filter(\.isManaged).map(\.id))
        guard let handler = jobs.withLockedValue({ $0.handler }) else { return connected }
        return connected.union(handler.runningNodes)
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
