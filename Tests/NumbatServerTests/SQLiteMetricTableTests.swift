import Foundation
import GRDB
import NumbatCore
@testable import NumbatStore
import Testing

/// The embedded store's metric history table (schema v11): a rowid table with a unique index
/// of its key, migrated from the `WITHOUT ROWID` table of earlier schemas with every row kept.
@Suite("SQLite metric history table")
struct SQLiteMetricTableTests {
    @Test("a store of schema v10 migrates its metric rows into the rowid table, every row kept, the key still unique")
    func migrates() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-metric-table-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let node = UUID()
        // A chunk past a page's local room (3 KB) and one of several pages, as merged rows are.
        let rows: [(tier: Int, start: Int64, sequence: Int, data: [UInt8])] = [
            (0, 3_600_000, 0, Array(repeating: 7, count: 40)),
            (0, 7_200_000, 1, (0..<3_000).map { UInt8(truncatingIfNeeded: $0) }),
            (0, 7_200_000, 2, (0..<20_000).map { UInt8(truncatingIfNeeded: $0 * 7) }),
            (1, 0, 0, [1, 2, 3]),
        ]
        do {
            let pool = try DatabasePool(path: directory.appendingPathComponent("numbat.sqlite").path)
            try Migrations.migrator.migrate(pool, upTo: "v10: trace sessions")
            try await pool.write { db in
                for row in rows {
                    try db.execute(sql: #"INSERT INTO metric_block (node_id, tier, start, sequence, "end", points, data) VALUES (?, ?, ?, ?, ?, ?, ?)"#,
                                   arguments: [node, row.tier, row.start, row.sequence, row.start + 3_600_000, row.data.count, Data(row.data)])
                }
            }
            try pool.close()
        }
        let store = try SQLiteStore(directory: directory)
        #expect(try store.appliedMigrations().last == "v11: metric history in a rowid table")
        let withoutRowID = try await store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'metric_block'")
        }
        #expect(withoutRowID.map { !$0.uppercased().contains("WITHOUT ROWID") } == true)
        let raw = try await store.metricBlocks(nodes: [node], tier: 0, from: 0, to: .max)
        #expect(raw.map(\.sequence) == [0, 1, 2] && raw.map(\.data) == rows.prefix(3).map(\.data))
        #expect(try await store.metricBlockRows(nodes: [node], tier: 0, start: 7_200_000, fromSequence: 2).map(\.data) == [rows[2].data])
        #expect(try await store.metricBlocks(nodes: [node], tier: 1, from: 0, to: .max).map(\.data) == [[1, 2, 3]])

        // A chunk written again (a retried write) replaces its row; the key stays unique.
        try await store.writeMetricBlocks([StoredMetricBlock(nodeID: node, tier: 0, start: 7_200_000, sequence: 1, end: 10_800_000, points: 1, data: [9])])
        #expect(try await store.metricBlockRows(nodes: [node], tier: 0, start: 7_200_000, fromSequence: 0).map(\.data) == [[9], rows[2].data])
        await #expect(throws: (any Error).self) {
            try await store.pool.write { db in
                try db.execute(sql: #"INSERT INTO metric_block (node_id, tier, start, sequence, "end", points, data) VALUES (?, 0, 7200000, 2, 0, 0, x'00')"#, arguments: [node])
            }
        }
        try await store.mergeMetricChunks([MetricChunkMerge(merged: StoredMetricBlock(nodeID: node, tier: 0, start: 7_200_000, sequence: 1, end: 10_800_000, points: 2, data: [8, 8]), lastSequence: 2)])
        #expect(try await store.metricBlockRows(nodes: [node], tier: 0, start: 7_200_000, fromSequence: 0).map(\.data) == [[8, 8]])
        try store.close()
    }
}
