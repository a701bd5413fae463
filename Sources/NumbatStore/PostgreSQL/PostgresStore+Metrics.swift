import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: MetricBlockStore {
    public func metricNames() async throws -> [Int: String] {
        var names: [Int: String] = [:]
        for row in try await rows("SELECT id, name FROM metric_name") {
            names[try row.value("id", as: Int.self)] = try row.value("name", as: String.self)
        }
        return names
    }

    /// Under a table lock (one writer of new numbers at a time, readers never blocked): the
    /// missing names get max + 1, + 2, ... in name order, then every asked name's number is read.
    public func numberMetricNames(_ names: [String]) async throws -> [String: Int] {
        let wanted = Array(Set(names)).sorted()
        guard !wanted.isEmpty else { return [:] }
        let logger = self.logger
        return try await transaction { connection in
            try await connection.query("LOCK TABLE metric_name IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            try await connection.query("""
                INSERT INTO metric_name (id, name)
                SELECT (SELECT coalesce(max(id), 0) FROM metric_name) + row_number() OVER (ORDER BY n), n
                FROM unnest(\(wanted)::text[]) AS n WHERE n NOT IN (SELECT name FROM metric_name)
                """, logger: logger)
            var numbers: [String: Int] = [:]
            for try await (id, name) in try await connection.query("SELECT id, name FROM metric_name WHERE name = ANY(\(wanted))", logger: logger)
                .decode((Int, String).self) {
                numbers[name] = id
            }
            return numbers
        }
    }

    /// One statement, the row arrays passed whole (`unnest`), so a cycle of thousands of nodes
    /// costs one round trip, not one per block.
    public func writeMetricBlocks(_ blocks: [StoredMetricBlock]) async throws {
        guard !blocks.isEmpty else { return }
        // The last row of a key wins, as with SQLite's INSERT OR REPLACE (one statement may not
        // update a row twice).
        var latest: [BlockKey: StoredMetricBlock] = [:]
        var order: [BlockKey] = []
        for block in blocks {
            let key = BlockKey(block)
            if latest.updateValue(block, forKey: key) == nil { order.append(key) }
        }
        let rows = order.map { latest[$0]! }
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(Self.upsert(rows), logger: logger)
        }
    }

    public func metricBlocks(nodes: [UUID], tier: Int, from: Int64, to: Int64) async throws -> [StoredMetricBlock] {
        guard !nodes.isEmpty else { return [] }
        let found = try await rows("""
            SELECT node_id, start, sequence, "end", points, data FROM metric_block
            WHERE node_id = ANY(\(nodes)) AND tier = \(tier) AND "end" > \(from) AND start < \(to)
            """)
        var byNode: [UUID: [StoredMetricBlock]] = [:]
        for row in found {
            let node: UUID = try row.value("node_id")
            let data: ByteBuffer = try row.value("data")
            byNode[node, default: []].append(StoredMetricBlock(
                nodeID: node, tier: tier, start: try row.value("start"), sequence: try row.value("sequence"),
                end: try row.value("end"), points: try row.value("points"), data: Array(data.readableBytesView)))
        }
        // In the order the nodes were asked for, each oldest first, as SQLite returns them.
        return nodes.flatMap { node in (byNode[node] ?? []).sorted { ($0.start, $0.sequence) < ($1.start, $1.sequence) } }
    }

    public func metricBlockRows(nodes: [UUID], tier: Int, start: Int64, fromSequence: Int) async throws -> [StoredMetricBlock] {
        guard !nodes.isEmpty else { return [] }
        let found = try await rows("""
            SELECT node_id, sequence, "end", points, data FROM metric_block
            WHERE node_id = ANY(\(nodes)) AND tier = \(tier) AND start = \(start) AND sequence >= \(fromSequence)
            """)
        var byNode: [UUID: [StoredMetricBlock]] = [:]
        for row in found {
            let node: UUID = try row.value("node_id")
            let data: ByteBuffer = try row.value("data")
            byNode[node, default: []].append(StoredMetricBlock(
                nodeID: node, tier: tier, start: start, sequence: try row.value("sequence"),
                end: try row.value("end"), points: try row.value("points"), data: Array(data.readableBytesView)))
        }
        return nodes.flatMap { node in (byNode[node] ?? []).sorted { $0.sequence < $1.sequence } }
    }

    public func compactMetricBlocks(_ blocks: [StoredMetricBlock]) async throws {
        guard !blocks.isEmpty else { return }
        var compacted = blocks
        for index in compacted.indices { compacted[index].sequence = 0 }
        let logger = self.logger
        try await transaction { connection in
            try await connection.query("""
                DELETE FROM metric_block AS b USING unnest(\(blocks.map(\.nodeID))::uuid[], \(blocks.map(\.tier))::bigint[],
                    \(blocks.map(\.start))::bigint[]) AS k(node_id, tier, start)
                WHERE b.node_id = k.node_id AND b.tier = k.tier AND b.start = k.start
                """, logger: logger)
            try await connection.query(Self.upsert(compacted), logger: logger)
        }
    }

    public func mergeMetricChunks(_ merges: [MetricChunkMerge]) async throws {
        guard !merges.isEmpty else { return }
        let blocks = merges.map(\.merged)
        let logger = self.logger
        try await transaction { connection in
            try await connection.query("""
                DELETE FROM metric_block AS b USING unnest(\(blocks.map(\.nodeID))::uuid[], \(blocks.map(\.tier))::bigint[],
                    \(blocks.map(\.start))::bigint[], \(blocks.map(\.sequence))::bigint[], \(merges.map(\.lastSequence))::bigint[])
                    AS k(node_id, tier, start, first, last)
                WHERE b.node_id = k.node_id AND b.tier = k.tier AND b.start = k.start AND b.sequence BETWEEN k.first AND k.last
                """, logger: logger)
            try await connection.query(Self.upsert(blocks), logger: logger)
        }
    }

    public func chunkedMetricBlocks(nodes: [UUID]) async throws -> [ChunkedMetricBlock] {
        guard !nodes.isEmpty else { return [] }
        return try await rows("""
            SELECT node_id, tier, start, MAX("end") AS "end", MAX(sequence) AS last FROM metric_block
            WHERE node_id = ANY(\(nodes)) AND sequence > 0 GROUP BY node_id, tier, start
            """).map { row in
            ChunkedMetricBlock(nodeID: try row.value("node_id"), tier: try row.value("tier"), start: try row.value("start"),
                               end: try row.value("end"), lastSequence: try row.value("last"))
        }
    }

    public func deleteMetricBlocks(tier: Int, endingBy end: Int64) async throws -> Int {
        let row = try await rows("""
            WITH deleted AS (DELETE FROM metric_block WHERE tier = \(tier) AND "end" <= \(end) RETURNING 1)
            SELECT count(*) AS n FROM deleted
            """).first
        return try row?.value("n", as: Int.self) ?? 0
    }

    public func deleteMetricBlocks(node: UUID) async throws {
        try await client.query("DELETE FROM metric_block WHERE node_id = \(node)", logger: logger)
    }

    public func metricStorageStats() async throws -> MetricStorageStats {
        let row = try await rows("""
            SELECT COUNT(*) AS blocks, COALESCE(SUM(points), 0)::bigint AS points, COALESCE(SUM(length(data)), 0)::bigint AS bytes
            FROM metric_block
            """).first
        return MetricStorageStats(blocks: try row?.value("blocks") ?? 0, points: try row?.value("points") ?? 0,
                                  dataBytes: try row?.value("bytes") ?? 0)
    }

    private static func upsert(_ blocks: [StoredMetricBlock]) -> PostgresQuery {
        """
        INSERT INTO metric_block (node_id, tier, start, sequence, "end", points, data)
        SELECT * FROM unnest(\(blocks.map(\.nodeID))::uuid[], \(blocks.map(\.tier))::bigint[], \(blocks.map(\.start))::bigint[],
                             \(blocks.map(\.sequence))::bigint[], \(blocks.map(\.end))::bigint[], \(blocks.map(\.points))::bigint[],
                             \(blocks.map { ByteBuffer(bytes: $0.data) })::bytea[])
        ON CONFLICT (node_id, tier, start, sequence) DO UPDATE SET "end" = excluded."end", points = excluded.points, data = excluded.data
        """
    }

    private struct BlockKey: Hashable {
        var node: UUID
        var tier: Int
        var start: Int64
        var sequence: Int

        init(_ block: StoredMetricBlock) {
            node = block.nodeID
            tier = block.tier
            start = block.start
            sequence = block.sequence
        }
    }
}
