import Foundation

/// A deployment domain as stored and shown: the family on one provider, and what Numbat made
/// on the provider for it (the family's key pair and security group).
public struct DomainResponse: Codable, Sendable, Equatable {
    public var id: UUID
    public var familyID: UUID
    public var providerID: UUID
    public var sshUser: String
    public var vdisk: String
    public var hwProfile: String
    public var keyName: String?
    public var securityGroupID: String?
    /// What the provider could not do for the family (a Libcloud driver without security
    /// groups cannot apply the firewall), so the user is told rather than left to guess.
    public var warnings: [String]?
    public var createdAt: Date

    public init(id: UUID, familyID: UUID, providerID: UUID, sshUser: String, vdisk: String, hwProfile: String,
                keyName: String? = nil, securityGroupID: String? = nil, warnings: [String]? = nil, createdAt: Date)
    {
        self.id = id
        self.familyID = familyID
        self.providerID = providerID
        self.sshUser = sshUser
        self.vdisk = vdisk
        self.hwProfile = hwProfile
        self.keyName = keyName
        self.securityGroupID = securityGroupID
        self.warnings = warnings
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, vdisk, warnings
        case familyID = "family"
        case providerID = "provider"
        case sshUser = "ssh_user"
        case hwProfile = "hw_profile"
        case keyName = "key_name"
        case securityGroupID = "security_group"
        case createdAt = "created_at"
    }
}
