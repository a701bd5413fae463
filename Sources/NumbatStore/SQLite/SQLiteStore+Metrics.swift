import Foundation
import GRDB
import NumbatCore

extension SQLiteStore: MetricBlockStore {
    public func metricNames() async throws -> [Int: String] {
        try await pool.read { db in
            var names: [Int: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM metric_name") {
                names[row["id"]] = row["name"]
            }
            return names
        }
    }

    public func numberMetricNames(_ names: [String]) async throws -> [String: Int] {
        guard !names.isEmpty else { return [:] }
        return try await pool.write { db in
            var numbers: [String: Int] = [:]
            var next = (try Int.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM metric_name") ?? 0) + 1
            for name in Set(names).sorted() {
                if let id = try Int.fetchOne(db, sql: "SELECT id FROM metric_name WHERE name = ?", arguments: [name]) {
                    numbers[name] = id
                } else {
                    try db.execute(sql: "INSERT INTO metric_name (id, name) VALUES (?, ?)", arguments: [next, name])
                    numbers[name] = next
                    next += 1
                }
            }
            return numbers
        }
    }

    public func writeMetricBlocks(_ blocks: [StoredMetricBlock]) async throws {
        guard !blocks.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO metric_block (node_id, tier, start, sequence, "end", points, data) VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            for block in blocks {
                try statement.execute(arguments: [block.nodeID, block.tier, block.start, block.sequence, block.end, block.points, Data(block.data)])
            }
        }
    }

    public func metricBlocks(nodes: [UUID], tier: Int, from: Int64, to: Int64) async throws -> [StoredMetricBlock] {
        try await pool.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT start, sequence, "end", points, data FROM metric_block
                WHERE node_id = ? AND tier = ? AND "end" > ? AND start < ? ORDER BY start, sequence
                """)
            var blocks: [StoredMetricBlock] = []
            for node in nodes {
                let rows = try Row.fetchCursor(statement, arguments: [node, tier, from, to])
                while let row = try rows.next() {
                    let data: Data = row["data"]
                    blocks.append(StoredMetricBlock(nodeID: node, tier: tier, start: row["start"], sequence: row["sequence"],
                                                    end: row["end"], points: row["points"], data: [UInt8](data)))
                }
            }
            return blocks
        }
    }

    public func metricBlockRows(nodes: [UUID], tier: Int, start: Int64, fromSequence: Int) async throws -> [StoredMetricBlock] {
        try await pool.read { db in
            // A range of the primary key (node, tier, start, sequence).
            let statement = try db.cachedStatement(sql: """
                SELECT sequence, "end", points, data FROM metric_block
                WHERE node_id = ? AND tier = ? AND start = ? AND sequence >= ? ORDER BY sequence
                """)
            var blocks: [StoredMetricBlock] = []
            for node in nodes {
                let rows = try Row.fetchCursor(statement, arguments: [node, tier, start, fromSequence])
                while let row = try rows.next() {
                    let data: Data = row["data"]
                    blocks.append(StoredMetricBlock(nodeID: node, tier: tier, start: start, sequence: row["sequence"],
                                                    end: row["end"], points: row["points"], data: [UInt8](data)))
                }
            }
            return blocks
        }
    }

    public func compactMetricBlocks(_ blocks: [StoredMetricBlock]) async throws {
        guard !blocks.isEmpty else { return }
        try await pool.write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM metric_block WHERE node_id = ? AND tier = ? AND start = ?")
            let insert = try db.cachedStatement(sql: #"INSERT INTO metric_block (node_id, tier, start, sequence, "end", points, data) VALUES (?, ?, ?, 0, ?, ?, ?)"#)
            for block in blocks {
                try delete.execute(arguments: [block.nodeID, block.tier, block.start])
                try insert.execute(arguments: [block.nodeID, block.tier, block.start, block.end, block.points, Data(block.data)])
            }
        }
    }

    public func mergeMetricChunks(_ merges: [MetricChunkMerge]) async throws {
        guard !merges.isEmpty else { return }
        try await pool.write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM metric_block WHERE node_id = ? AND tier = ? AND start = ? AND sequence BETWEEN ? AND ?")
            let insert = try db.cachedStatement(sql: #"INSERT INTO metric_block (node_id, tier, start, sequence, "end", points, data) VALUES (?, ?, ?, ?, ?, ?, ?)"#)
            for merge in merges {
                let block = merge.merged
                try delete.execute(arguments: [block.nodeID, block.tier, block.start, block.sequence, merge.lastSequence])
                try insert.execute(arguments: [block.nodeID, block.tier, block.start, block.sequence, block.end, block.points, Data(block.data)])
            }
        }
    }

    public func chunkedMetricBlocks(nodes: [UUID]) async throws -> [ChunkedMetricBlock] {
        try await pool.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT tier, start, MAX("end") AS "end", MAX(sequence) AS last FROM metric_block
                WHERE node_id = ? AND sequence > 0 GROUP BY tier, start
                """)
            var blocks: [ChunkedMetricBlock] = []
            for node in nodes {
                for row in try Row.fetchAll(statement, arguments: [node]) {
                    blocks.append(ChunkedMetricBlock(nodeID: node, tier: row["tier"], start: row["start"], end: row["end"], lastSequence: row["last"]))
                }
            }
            return blocks
        }
    }

    public func deleteMetricBlocks(tier: Int, endingBy end: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: #"DELETE FROM metric_block WHERE tier = ? AND "end" <= ?"#, arguments: [tier, end])
            return db.changesCount
        }
    }

    public func deleteMetricBlocks(node: UUID) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM metric_block WHERE node_id = ?", arguments: [node])
        }
    }

    public func metricStorageStats() async throws -> MetricStorageStats {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS blocks, COALESCE(SUM(points), 0) AS points, COALESCE(SUM(LENGTH(data)), 0) AS bytes FROM metric_block")
            return MetricStorageStats(blocks: row?["blocks"] ?? 0, points: row?["points"] ?? 0, dataBytes: row?["bytes"] ?? 0)
        }
    }
}
