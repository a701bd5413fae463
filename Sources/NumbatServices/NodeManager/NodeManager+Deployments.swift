import Foundation
import NumbatCore

/// What orchestration asks of the node manager for the nodes it deploys. Orchestration owns the
/// deployment (its steps, hosts and instances); the node manager owns the node's state, so every
/// state change goes through here and is stored and published the same way.
extension NodeManager {
    /// Files a new node that deployment is about to create: UNINIT, named `<id>@pending` until
    /// its host is known. Publishes `nodeAdded`.
    public func addPlanned(id: UUID, familyID: UUID, cookie: String) async throws -> ManagedNode {
        let node = ManagedNode(id: id, name: "\(id.uuidString.lowercased())@pending", state: .uninit, familyID: familyID, host: "")
        try await plan(node, credentials: NodeCredentials(cookie: cookie))
        return node
    }

    /// Moves a deployed node that the manager is not connected to between UNINIT, STOPPED and
    /// ERROR (seed 4.1.4). UP and DOWN are the manager's own: a node it manages keeps them, and
    /// the request is ignored. `message` is stored as the reason of an ERROR.
    public func setDeploymentState(_ id: UUID, _ state: NodeState, message: String? = nil) async throws {
        try await apply(.deploymentStep(state, message: message), to: id)
    }

    /// The deployed node's real name and host, once its instance has an address.
    public func setAddress(_ id: UUID, name: String, host: String) async throws {
        try await apply(.renamed(name: name, host: host), to: id)
    }

    /// Starts managing a deployed node whose release was just started: DOWN until connected,
    /// then UP, reconnected whenever lost, as any managed node.
    public func manage(_ id: UUID) async throws {
        try await apply(.managed, to: id)
    }

    /// Stops managing the node and forgets it: its connection closes, its row goes, and
    /// `nodeRemoved` is published. The node itself keeps running. Returns the node as it was.
    @discardableResult
    public func remove(_ id: UUID) async throws -> ManagedNode? {
        try await removeNode(id)
    }
}
