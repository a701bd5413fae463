import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: TokenStore {
    public func insertToken(_ token: APIToken, secretHash: Data) async throws {
        try await client.query("""
            INSERT INTO api_token (id, name, role, token_hash, created_at, last_used_at)
            VALUES (\(token.id), \(token.name), \(token.role.rawValue), \(secretHash), \(token.createdAt), \(token.lastUsedAt))
            """, logger: logger)
    }

    public func token(secretHash: Data) async throws -> APIToken? {
        try await rows("SELECT * FROM api_token WHERE token_hash = \(secretHash)").first.map(Self.token)
    }

    public func tokens() async throws -> [APIToken] {
        try await rows("SELECT * FROM api_token ORDER BY created_at, id").map(Self.token)
    }

    public func deleteToken(id: UUID) async throws -> Bool {
        try await !rows("DELETE FROM api_token WHERE id = \(id) RETURNING id").isEmpty
    }

    public func touchToken(id: UUID, at time: Date) async throws {
        try await client.query("UPDATE api_token SET last_used_at = \(time) WHERE id = \(id)", logger: logger)
    }

    private static func token(_ row: PostgresRandomAccessRow) throws -> APIToken {
        APIToken(id: try row.value("id"), name: try row.value("name"),
                 role: APIToken.Role(rawValue: try row.value("role")) ?? .viewer,
                 createdAt: try row.value("created_at"), lastUsedAt: try row.value("last_used_at"))
    }
}
