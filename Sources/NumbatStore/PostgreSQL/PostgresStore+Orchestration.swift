import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: OrchestrationStore {
    public func putRecord(kind: String, id: UUID, parent: UUID?, body: Data) async throws {
        try await client.query("""
            INSERT INTO orch_record (kind, id, parent, body, created_at) VALUES (\(kind), \(id), \(parent), \(body), \(Date().timeIntervalSince1970))
            ON CONFLICT (kind, id) DO UPDATE SET parent = excluded.parent, body = excluded.body
            """, logger: logger)
    }

    public func record(kind: String, id: UUID) async throws -> Data? {
        try await rows("SELECT body FROM orch_record WHERE kind = \(kind) AND id = \(id)").first?.value("body", as: Data.self)
    }

    public func records(kind: String, parent: UUID?) async throws -> [Data] {
        let found: [PostgresRandomAccessRow]
        if let parent {
            found = try await rows("SELECT body FROM orch_record WHERE kind = \(kind) AND parent = \(parent) ORDER BY created_at, position")
        } else {
            found = try await rows("SELECT body FROM orch_record WHERE kind = \(kind) ORDER BY created_at, position")
        }
        return try found.map { try $0.value("body", as: Data.self) }
    }

    public func setRecordSecret(kind: String, id: UUID, secret: String) async throws {
        let sealed = try secrets.seal(secret)
        let updated = try await rows("UPDATE orch_record SET secret_sealed = \(sealed) WHERE kind = \(kind) AND id = \(id) RETURNING id")
        guard updated.count == 1 else { throw NumbatError.notFound("not_found", "\(kind) \(id) is not stored") }
    }

    public func recordSecret(kind: String, id: UUID) async throws -> String? {
        guard let row = try await rows("SELECT secret_sealed FROM orch_record WHERE kind = \(kind) AND id = \(id)").first,
              let sealed = try row.value("secret_sealed", as: Data?.self)
        else { return nil }
        return try secrets.open(sealed)
    }

    public func deleteRecord(kind: String, id: UUID) async throws -> Bool {
        try await !rows("DELETE FROM orch_record WHERE kind = \(kind) AND id = \(id) RETURNING id").isEmpty
    }
}
