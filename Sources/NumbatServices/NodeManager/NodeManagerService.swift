import NumbatCore

/// The node manager as a service: it has no routes of its own (node states are Topology's
/// to show, seed 2.2 item 2). Starting it reconnects every stored node; in a cluster of servers
/// (`restoring: false`) the cluster service hands it the nodes whose leases it holds instead.
public struct NodeManagerService: NumbatService {
    public let name = "node_manager"
    let nodes: NodeManager
    let restoring: Bool

    public init(context: ServiceContext, restoring: Bool = true) {
        nodes = context.nodes
        self.restoring = restoring
    }

    public func start() async throws { try await nodes.start(restoring: restoring) }
    public func stop() async { await nodes.stop() }
}
