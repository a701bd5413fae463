import Foundation
import NumbatCore

/// `POST /api/orch/node_families/{id}/domains` (seed 4.1.3, listing 9): the family on one
/// provider, with the user Numbat logs in as and, on clouds, the image and machine size. The
/// seed's body also says `"type": "virtual"` (or `physical`); given, it must match the provider.
public struct AddDomainRequest: Codable, Sendable, Equatable {
    public var provider: UUID
    public var sshUser: String
    public var vdisk: String
    public var hwProfile: String
    /// `virtual` or `physical`, as the seed's listing 9 sends it; nil when not given.
    public var type: String?

    public static let allowedFields: Set<String> = ["provider", "ssh_user", "vdisk", "hw_profile", "type"]

    public init(provider: UUID, sshUser: String, vdisk: String = "", hwProfile: String = "") {
        self.provider = provider
        self.sshUser = sshUser
        self.vdisk = vdisk
        self.hwProfile = hwProfile
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.allowedFields, of: "a domain")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        provider = try container.decodeID(.provider, "a provider id")
        sshUser = try container.decodeIfPresent(String.self, forKey: .sshUser) ?? ""
        guard !sshUser.isEmpty else { throw NumbatError.invalidField("ssh_user", "is required: the user Numbat logs in as") }
        // A user name as systems allow them (Numbat may create it on a root-only image).
        guard sshUser.count <= 32, sshUser.range(of: "^[A-Za-z_][A-Za-z0-9_.-]*$", options: .regularExpression) != nil else {
            throw NumbatError.invalidField("ssh_user", "must be a user name (letters, digits, _ . -), not '\(sshUser.prefix(64))'")
        }
        vdisk = try container.decodeIfPresent(String.self, forKey: .vdisk) ?? ""
        hwProfile = try container.decodeIfPresent(String.self, forKey: .hwProfile) ?? ""
        type = try container.decodeIfPresent(String.self, forKey: .type)
        if let type, !["virtual", "physical"].contains(type) {
            throw NumbatError.invalidField("type", "must be virtual or physical, not '\(type.prefix(64))'")
        }
    }

    enum CodingKeys: String, CodingKey {
        case provider, vdisk, type
        case sshUser = "ssh_user"
        case hwProfile = "hw_profile"
    }
}
