import Foundation
import GRDB
import NumbatCore

extension SQLiteStore: SettingStore {
    public func setting(_ key: String) async throws -> Data? {
        try await pool.read { db in try Data.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]) }
    }

    public func setSetting(_ key: String, _ value: Data?) async throws {
        try await pool.write { db in
            if let value {
                try db.execute(sql: "INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               arguments: [key, value])
            } else {
                try db.execute(sql: "DELETE FROM setting WHERE key = ?", arguments: [key])
            }
        }
    }

    public func settings(prefix: String) async throws -> [String: Data] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM setting WHERE substr(key, 1, ?) = ?", arguments: [prefix.count, prefix])
            return Dictionary(rows.map { ($0["key"] as String, $0["value"] as Data) }, uniquingKeysWith: { $1 })
        }
    }
}
