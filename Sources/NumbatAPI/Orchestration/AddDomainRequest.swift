import Foundation
import NumbatCore

/// `POST /api/orch/node_families/{id}/domains` (seed 4.1.3): the family on one provider, with
/// the user Numbat logs in as and, on clouds, the image and machine size.
public struct AddDomainRequest: Codable, Sendable, Equatable {
    public var provider: UUID
    public var sshUser: String
    public var vdisk: String
    public var hwProfile: String

    public static let allowedFields: Set<String> = ["provider", "ssh_user", "vdisk", "hw_profile"]

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
        vdisk = try container.decodeIfPresent(String.self, forKey: .vdisk) ?? ""
        hwProfile = try container.decodeIfPresent(String.self, forKey: .hwProfile) ?? ""
    }

    enum CodingKeys: String, CodingKey {
        case provider, vdisk
        case sshUser = "ssh_user"
        case hwProfile = "hw_profile"
    }
}
