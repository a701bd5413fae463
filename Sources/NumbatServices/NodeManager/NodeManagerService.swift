import NumbatCore

/// The node manager as a service: it has no routes of its own (node states are Topology's
/// to show, seed 2.2 item 2); starting it reconnects every stored node.
public struct NodeManagerService: NumbatService {
    public let name = "node_manager"
    let nodes: NodeManager

    public init(context: ServiceContext) {
        nodes = context.nodes
    }

    public func start() async throws { try await nodes.start() }
    public func stop() async { await nodes.stop() }
}
