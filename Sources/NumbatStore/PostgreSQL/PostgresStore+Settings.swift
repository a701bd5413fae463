import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: SettingStore {
    public func setting(_ key: String) async throws -> Data? {
        try await rows("SELECT value FROM setting WHERE key = \(key)").first?.value("value", as: Data.self)
    }

    public func setSetting(_ key: String, _ value: Data?) async throws {
        if let value {
            try await client.query("""
                INSERT INTO setting (key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, logger: logger)
        } else {
            try await client.query("DELETE FROM setting WHERE key = \(key)", logger: logger)
        }
    }

    public func settings(prefix: String) async throws -> [String: Data] {
        let rows = try await rows("SELECT key, value FROM setting WHERE starts_with(key, \(prefix))")
        var settings: [String: Data] = [:]
        for row in rows { settings[try row.value("key", as: String.self)] = try row.value("value", as: Data.self) }
        return settings
    }
}
