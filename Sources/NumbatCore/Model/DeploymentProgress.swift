import Foundation

/// One step of a node's deployment (seed 4.1.4) or of a node action. The raw values are the
/// API's words: the `step` field of deployments and progress events, and the WebSocket's
/// `deployment_<step>` event types, so renaming a case would break clients.
public enum DeploymentStep: String, Codable, Sendable, CaseIterable {
    case creatingInstance = "creating_instance"
    case connecting
    case uploading
    case unpacking
    case starting
    /// The start command ran; the node manager is connecting to the node.
    case connectingNode = "connecting_node"
    case bootstrapping
    case done
    case failed
    case stopping
    case stopped
    case deleting
    case deleted

    /// Steps after which nothing runs for the node until a user acts: a deployment found in
    /// any other step after a restart was cut short.
    public var isSettled: Bool { self == .done || self == .failed || self == .stopped }
}

/// One step of a node's deployment (seed 4.1.4), published as it happens so the API, the
/// WebSocket and `numbat deploy` can show progress.
public struct DeploymentProgress: Codable, Sendable, Equatable {
    public var nodeID: UUID
    public var familyID: UUID
    public var step: DeploymentStep
    public var state: NodeState
    /// What happened, in words (the error for `failed`).
    public var message: String?
    /// The node's name, so a progress display needs no lookup.
    public var nodeName: String?

    public init(nodeID: UUID, familyID: UUID, step: DeploymentStep, state: NodeState, message: String? = nil, nodeName: String? = nil) {
        self.nodeID = nodeID
        self.familyID = familyID
        self.step = step
        self.state = state
        self.message = message
        self.nodeName = nodeName
    }

    /// The WebSocket event type: `deployment_creating_instance`, ..., `deployment_done`.
    public var eventType: String { "deployment_" + step.rawValue }

    enum CodingKeys: String, CodingKey {
        case step, state, message
        case nodeID = "node_id"
        case nodeName = "node_name"
        case familyID = "family_id"
    }
}
