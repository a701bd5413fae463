import Crypto
import Foundation

/// An API token's record. The token itself (`nbt_...`) is shown once, when created; only its
/// SHA-256 is stored, so a leaked database grants nothing.
public struct APIToken: Codable, Sendable, Equatable, Identifiable {
    public enum Role: String, Codable, Sendable, CaseIterable {
        /// Everything, including remote commands and token management.
        case admin
        /// Read-only: GET requests and WebSocket events.
        case viewer
    }

    public var id: UUID
    public var name: String
    public var role: Role
    public var createdAt: Date
    public var lastUsedAt: Date?

    public init(id: UUID = UUID(), name: String, role: Role, createdAt: Date = Date(), lastUsedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, role
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
    }

    /// A new random secret: `nbt_` and 43 URL-safe base64 characters (256 bits).
    public static func generateSecret() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let text = bytes.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return "nbt_" + text
    }

    /// What is stored and looked up: SHA-256 of the secret.
    public static func hash(_ secret: String) -> Data {
        Data(SHA256.hash(data: Data(secret.utf8)))
    }
}
