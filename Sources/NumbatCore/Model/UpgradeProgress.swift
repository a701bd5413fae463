import Foundation

/// One step of a rolling upgrade (`RollingUpgradePlan`), published on the WebSocket topic
/// `deployment` as `upgrade_<phase>` so `numbat upgrade start` and other clients can follow it.
/// With `nodeID` it is one node's phase (`upgrade_node_installing`, ..., `upgrade_node_rolled_back`);
/// without, the whole upgrade's state (`upgrade_running`, `upgrade_succeeded`, `upgrade_failed`).
public struct UpgradeProgress: Codable, Sendable, Equatable {
    public var upgradeID: UUID
    public var familyID: UUID
    public var nodeID: UUID?
    public var nodeName: String?
    /// A node's phase or the upgrade's state, in the API's words.
    public var phase: String
    /// What happened, in words (the reason of a failure).
    public var message: String?

    public init(upgradeID: UUID, familyID: UUID, nodeID: UUID? = nil, nodeName: String? = nil, phase: String, message: String? = nil) {
        self.upgradeID = upgradeID
        self.familyID = familyID
        self.nodeID = nodeID
        self.nodeName = nodeName
        self.phase = phase
        self.message = message
    }

    /// The WebSocket event type.
    public var eventType: String { nodeID == nil ? "upgrade_" + phase : "upgrade_node_" + phase }

    enum CodingKeys: String, CodingKey {
        case phase, message
        case upgradeID = "upgrade_id"
        case familyID = "family_id"
        case nodeID = "node_id"
        case nodeName = "node_name"
    }
}
