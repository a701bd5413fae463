import Foundation

/// One step of a node's deployment (seed 4.1.4), published as it happens so the API, the
/// WebSocket and `numbat deploy` can show progress.
public struct DeploymentProgress: Codable, Sendable, Equatable {
    public var nodeID: UUID
    public var familyID: UUID
    /// `creating_instance`, `connecting`, `uploading`, `unpacking`, `starting`, `bootstrapping`,
    /// `done`, `failed`; `stopping`, `deleting`, `deleted` for node actions.
    public var step: String
    public var state: NodeState
    /// What happened, in words (the error for `failed`).
    public var message: String?
    /// The node's name, so a progress display needs no lookup.
    public var nodeName: String?

    public init(nodeID: UUID, familyID: UUID, step: String, state: NodeState, message: String? = nil, nodeName: String? = nil) {
        self.nodeID = nodeID
        self.familyID = familyID
        self.step = step
        self.state = state
        self.message = message
        self.nodeName = nodeName
    }

    enum CodingKeys: String, CodingKey {
        case step, state, message
        case nodeID = "node_id"
        case nodeName = "node_name"
        case familyID = "family_id"
    }
}
