import Foundation
import NumbatCore
import NumbatProviders

/// How Numbat logs in to a domain's machines.
enum LoginMethod {
    /// With a key Numbat holds (swift-nio-ssh): a physical provider's `private_key`, or the
    /// family's key, which clouds put on the instances they make.
    case key(SSHKeyPair)
    /// With OpenSSH's client and the server user's own keys, agent, known_hosts and ssh_config:
    /// a physical provider created without a `private_key` (the seed's "passwordless SSH").
    case openSSH
}

extension OrchestrationService {
    /// The login for a node of `familyID` on `provider`.
    func loginMethod(provider: ProviderRecord, familyID: UUID) async throws -> LoginMethod {
        let raw: String?
        if provider.kind == .physical {
            raw = try await records.secrets(of: ProviderRecord.self, id: provider.id)["private_key"]
            guard raw != nil else { return .openSSH }
        } else {
            raw = try await records.secrets(of: FamilyPlan.self, id: familyID)["private_key"]
        }
        guard let raw else { throw NumbatError(.internalError, "key_missing", "the SSH key for \(provider.name) is missing from the store") }
        return .key(try SSHKeyPair(openSSHPrivateKey: raw))
    }
}
