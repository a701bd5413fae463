import Foundation
import GRDB
import NumbatCore

extension SQLiteStore: NumbatStorage {
    public var storeDescription: String { directory.appendingPathComponent("numbat.sqlite").path }

    /// The embedded store migrates when it opens; this only reports what was applied.
    public func prepare() async throws -> [String] {
        try appliedMigrations()
    }

    public func shutdown() async throws {
        try close()
    }
}

extension NumbatStorage {
    /// The embedded store's GRDB pool, for tests that look at its rows directly
    /// (`@testable import NumbatStore`). Traps on any other store: such a test means SQLite.
    var pool: DatabasePool {
        guard let sqlite = self as? SQLiteStore else { preconditionFailure("\(storeDescription) is not the embedded SQLite store") }
        return sqlite.pool
    }
}
