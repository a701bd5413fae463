import Foundation
import GRDB
import NumbatCore

extension SQLiteStore: OrchestrationStore {
    public func putRecord(kind: String, id: UUID, parent: UUID?, body: Data) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO orch_record (kind, id, parent, body, created_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(kind, id) DO UPDATE SET parent = excluded.parent, body = excluded.body
                """, arguments: [kind, id, parent, body, Date().timeIntervalSince1970])
        }
    }

    public func record(kind: String, id: UUID) async throws -> Data? {
        try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT body FROM orch_record WHERE kind = ? AND id = ?", arguments: [kind, id])
        }
    }

    public func records(kind: String, parent: UUID?) async throws -> [Data] {
        try await pool.read { db in
            if let parent {
                return try Data.fetchAll(db, sql: "SELECT body FROM orch_record WHERE kind = ? AND parent = ? ORDER BY created_at, rowid",
                                         arguments: [kind, parent])
            }
            return try Data.fetchAll(db, sql: "SELECT body FROM orch_record WHERE kind = ? ORDER BY created_at, rowid", arguments: [kind])
        }
    }

    public func setRecordSecret(kind: String, id: UUID, secret: String) async throws {
        let sealed = try secrets.seal(secret)
        try await pool.write { db in
            try db.execute(sql: "UPDATE orch_record SET secret_sealed = ? WHERE kind = ? AND id = ?", arguments: [sealed, kind, id])
            guard db.changesCount == 1 else { throw NumbatError.notFound("not_found", "\(kind) \(id) is not stored") }
        }
    }

    public func recordSecret(kind: String, id: UUID) async throws -> String? {
        let sealed = try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT secret_sealed FROM orch_record WHERE kind = ? AND id = ?", arguments: [kind, id])
        }
        return try sealed.map { try secrets.open($0) }
    }

    public func deleteRecord(kind: String, id: UUID) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM orch_record WHERE kind = ? AND id = ?", arguments: [kind, id])
            return db.changesCount == 1
        }
    }
}
