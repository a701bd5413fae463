import Foundation
import NumbatCore

/// `POST /api/tokens` (admin).
public struct CreateTokenRequest: Codable, Sendable, Equatable {
    public var name: String
    /// `viewer` when absent.
    public var role: APIToken.Role?

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["name", "role"]

    public init(name: String, role: APIToken.Role? = nil) {
        self.name = name
        self.role = role
    }
}

/// A new token: its secret is in this answer only (the server keeps its hash).
public struct CreatedTokenResponse: Codable, Sendable, Equatable {
    public var token: APIToken
    public var secret: String

    public init(token: APIToken, secret: String) {
        self.token = token
        self.secret = secret
    }
}

/// `GET /api/tokens`: never the secrets.
public struct TokenListResponse: Codable, Sendable, Equatable {
    public var tokens: [APIToken]

    public init(tokens: [APIToken]) { self.tokens = tokens }
}
