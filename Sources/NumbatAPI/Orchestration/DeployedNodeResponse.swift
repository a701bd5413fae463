import Foundation
import NumbatCore

/// A deployed node: where it lives, how far its deployment got, and the managed node's name,
/// state (`status`) and last error.
public struct DeployedNodeResponse: Codable, Sendable, Equatable {
    public var id: UUID
    public var familyID: UUID
    public var domainID: UUID
    public var providerID: UUID
    public var releaseID: UUID
    public var instanceID: String?
    public var address: String?
    public var sshPort: Int
    /// The node's directory on its host.
    public var directory: String?
    public var step: DeploymentStep
    public var message: String?
    public var createdAt: Date
    public var name: String?
    public var status: NodeState
    public var lastError: String?

    public init(id: UUID, familyID: UUID, domainID: UUID, providerID: UUID, releaseID: UUID, instanceID: String?, address: String?, sshPort: Int,
                directory: String?, step: DeploymentStep, message: String?, createdAt: Date, name: String?, status: NodeState, lastError: String?)
    {
        self.id = id
        self.familyID = familyID
        self.domainID = domainID
        self.providerID = providerID
        self.releaseID = releaseID
        self.instanceID = instanceID
        self.address = address
        self.sshPort = sshPort
        self.directory = directory
        self.step = step
        self.message = message
        self.createdAt = createdAt
        self.name = name
        self.status = status
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey {
        case id, address, directory, step, message, name, status
        case familyID = "family"
        case domainID = "domain"
        case providerID = "provider"
        case releaseID = "release"
        case instanceID = "instance"
        case sshPort = "ssh_port"
        case createdAt = "created_at"
        case lastError = "last_error"
    }
}
