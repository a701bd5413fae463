import Foundation
import GRDB
@testable import NumbatStore
import Testing

/// The embedded store's page caches: its readers small, its writer SQLite's default.
@Suite("SQLite page caches")
struct SQLiteCacheTests {
    @Test("reader connections keep a page cache of 512 KiB; the writer keeps SQLite's 2 MiB")
    func caches() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory)
        let reader = try await store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") }
        let writer = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") }
        #expect(reader == -SQLiteStore.readerCacheKiB)
        #expect(writer == -2000)
        try store.close()
    }
}
