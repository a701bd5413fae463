import Foundation
import NumbatCore

/// What the cluster service asks of the node manager when servers share one database: take over
/// the nodes whose leases this server got, and let go of the ones it hands over. Only the lease
/// holder connects to a node, so a node never has two managers.
extension NodeManager {
    /// Takes over `ids` as stored now (another server may have changed them since this one last
    /// looked): each is reconnected without first being marked DOWN (`NodeLifecycle.adopted`).
    public func adopt(_ ids: [UUID]) async {
        for id in ids {
            do {
                // A deployment's node (UNINIT, STOPPED, ERROR) has no connection to take over.
                guard let node = try await store.node(id: id), node.state == .up || node.state == .down else { continue }
                let cookie = try await store.cookie(forNode: id) ?? ""
                await replaceIdle(with: NodeLifecycle(node: node, schedule: schedule, phase: .idle), cookie: cookie)?.post(.adopted)
            } catch {
                logger.error("cannot take over a node", metadata: ["node": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Lets go of `ids`: their connections close and they stay stored as they are, for the
    /// server that takes them next.
    public func release(_ ids: [UUID]) async {
        for id in ids { await unmanage(id) }
    }

    /// The nodes this server holds a connection to (or is trying to).
    public var managedIDs: Set<UUID> {
        Set(supervisors.filter(\.isManaged).map(\.id))
    }
}
