import Foundation

/// Work another service runs for a node besides its connection — orchestration's deployments and
/// node actions — which belongs, like the connection, to the server that holds the node
/// (issue 13). The node manager hands it over and takes it over together with the node: when
/// the cluster service lets a node go (`NodeManager.release`) its work here is told to stop at
/// its next safe point (`handOver`), and when this server takes a node (`NodeManager.adopt`,
/// or every stored node when a lone server starts) the work another server left unfinished is
/// picked up here (`takeOver`). So one server at a time does anything with a node, and a job
/// whose server died is finished (or failed and cleaned up) by the node's next holder instead
/// of staying in a step forever.
public protocol NodeJobs: Sendable {
    /// The nodes whose work runs here and has not been handed over: this server's as much as the
    /// nodes it is connected to (they count in `NodeManager.managedIDs`, so their leases are
    /// claimed and kept like those of connected nodes).
    var runningNodes: Set<UUID> { get }
    /// This server now holds `ids`: go on with whatever work on them is unfinished.
    func takeOver(_ ids: [UUID]) async
    /// This server no longer holds `ids`: their work here stops at its next safe point and
    /// leaves the rest to the next holder.
    func handOver(_ ids: [UUID])
}
