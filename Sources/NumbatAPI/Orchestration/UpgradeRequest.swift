import Foundation
import NumbatCore

/// `POST /api/orch/node_families/{id}/upgrades`: roll `release` over the family's deployed
/// nodes, `batch` nodes at a time (default 1).
public struct StartUpgradeRequest: Codable, Sendable, Equatable {
    public var release: UUID
    public var batch: Int

    public static let allowedFields: Set<String> = ["release", "batch"]

    public init(release: UUID, batch: Int = 1) {
        self.release = release
        self.batch = batch
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.allowedFields, of: "an upgrade")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        release = try container.decodeID(.release, "a release id")
        if container.contains(.batch) {
            guard let batch = try? container.decode(Int.self, forKey: .batch) else { throw NumbatError.invalidField("batch", "must be a number of nodes") }
            self.batch = batch
        } else {
            batch = 1
        }
    }

    enum CodingKeys: String, CodingKey { case release, batch }
}

/// A rolling upgrade as the API shows it: `state` is `running`, `succeeded` or `failed`
/// (`reason` says why); each node's `phase` is `pending`, `installing`, `switching`,
/// `checking`, `upgraded`, `failed`, `rolling_back`, `rolled_back` or `rollback_failed`, and
/// `method` how it switched (`relup`: a hot upgrade with release_handler; `restart`).
public struct UpgradeResponse: Codable, Sendable, Equatable {
    public struct Node: Codable, Sendable, Equatable {
        public var id: UUID
        public var name: String?
        public var batch: Int
        public var phase: String
        public var method: String?
        public var message: String?
        /// The release the node ran before the upgrade (what a rollback returns it to).
        public var fromRelease: UUID?

        public init(id: UUID, name: String?, batch: Int, phase: String, method: String?, message: String?, fromRelease: UUID?) {
            self.id = id
            self.name = name
            self.batch = batch
            self.phase = phase
            self.method = method
            self.message = message
            self.fromRelease = fromRelease
        }

        enum CodingKeys: String, CodingKey {
            case id, name, batch, phase, method, message
            case fromRelease = "from_release"
        }
    }

    public var id: UUID
    public var familyID: UUID
    public var releaseID: UUID
    public var version: String
    public var batch: Int
    public var state: String
    public var reason: String?
    public var nodes: [Node]
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: UUID, familyID: UUID, releaseID: UUID, version: String, batch: Int, state: String, reason: String?, nodes: [Node], createdAt: Date, updatedAt: Date) {
        self.id = id
        self.familyID = familyID
        self.releaseID = releaseID
        self.version = version
        self.batch = batch
        self.state = state
        self.reason = reason
        self.nodes = nodes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, version, batch, state, reason, nodes
        case familyID = "family"
        case releaseID = "release"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}
