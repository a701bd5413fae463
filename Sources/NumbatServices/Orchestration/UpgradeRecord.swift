import Foundation
import NumbatAPI

/// A rolling upgrade as stored: its plan (every node's phase) and what each node ran before,
/// saved after every change so the API shows progress and a restart finds it.
struct UpgradeRecord: OrchestrationRecord, Equatable {
    static let kind = "upgrade"
    var id: UUID
    var familyID: UUID
    var releaseID: UUID
    var version: String
    var plan: RollingUpgradePlan
    /// The release each node ran before (node id -> release id): what a rollback returns it to.
    var fromReleases: [String: UUID]
    /// The server running the upgrade (its hidden node's name), nil once settled.
    var runner: String?
    var createdAt: Date
    var updatedAt: Date
    var parent: UUID? { familyID }

    func fromRelease(_ node: UUID) -> UUID? { fromReleases[node.uuidString.lowercased()] }

    func response(names: [UUID: String]) -> UpgradeResponse {
        UpgradeResponse(id: id, familyID: familyID, releaseID: releaseID, version: version, batch: plan.batchSize, state: plan.state.rawValue,
                        reason: plan.reason,
                        nodes: plan.nodes.map {
                            UpgradeResponse.Node(id: $0.id, name: names[$0.id], batch: $0.batch, phase: $0.phase.rawValue, method: $0.method,
                                                 message: $0.message, fromRelease: fromRelease($0.id))
                        },
                        createdAt: createdAt, updatedAt: updatedAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, version, plan, runner
        case familyID = "family"
        case releaseID = "release"
        case fromReleases = "from_releases"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}
