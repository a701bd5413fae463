import Foundation

/// One stored row of a node's metric history: series of the node in one tier within the block
/// `start ..< end` (milliseconds since 1970), compressed by the metrics service; sequence 0 is
/// the whole block once compacted, 1, 2, ... the chunks appended while it was open. The store
/// treats `data` as opaque.
public struct StoredMetricBlock: Sendable, Equatable {
    public var nodeID: UUID
    public var tier: Int
    public var start: Int64
    public var sequence: Int
    public var end: Int64
    public var points: Int
    public var data: [UInt8]

    public init(nodeID: UUID, tier: Int, start: Int64, sequence: Int = 0, end: Int64, points: Int, data: [UInt8]) {
        self.nodeID = nodeID
        self.tier = tier
        self.start = start
        self.sequence = sequence
        self.end = end
        self.points = points
        self.data = data
    }
}

/// A block that still consists of chunks.
public struct ChunkedMetricBlock: Sendable, Equatable {
    public var nodeID: UUID
    public var tier: Int
    public var start: Int64
    public var end: Int64
    public var lastSequence: Int

    public init(nodeID: UUID, tier: Int, start: Int64, end: Int64, lastSequence: Int) {
        self.nodeID = nodeID
        self.tier = tier
        self.start = start
        self.end = end
        self.lastSequence = lastSequence
    }
}

/// Consecutive chunk rows of one block merged into one row: `merged` (at `merged.sequence`,
/// the first of them) replaces the block's rows numbered `merged.sequence ... lastSequence`.
/// Merging chunks in levels, rather than rewriting the whole block every few chunks, keeps the
/// rows of an open block few at a cost per point that does not grow with the block.
public struct MetricChunkMerge: Sendable, Equatable {
    public var merged: StoredMetricBlock
    public var lastSequence: Int

    public init(merged: StoredMetricBlock, lastSequence: Int) {
        self.merged = merged
        self.lastSequence = lastSequence
    }
}

/// What the stored metric history takes up.
public struct MetricStorageStats: Sendable, Equatable {
    public var blocks: Int
    public var points: Int
    /// Bytes of block data.
    public var dataBytes: Int

    public init(blocks: Int, points: Int, dataBytes: Int) {
        self.blocks = blocks
        self.points = points
        self.dataBytes = dataBytes
    }
}

/// Storage of metric history (the metrics service): blocks, and the dictionary of metric names
/// the blocks refer to by number.
public protocol MetricBlockStore: Sendable {
    /// Every metric name by its number.
    func metricNames() async throws -> [Int: String]
    /// The numbers of `names`, giving each new name the next free number. The store hands them
    /// out (atomically, under a lock in PostgreSQL) so that every server sharing it numbers a
    /// name alike: blocks written by one server read right on another after a takeover.
    func numberMetricNames(_ names: [String]) async throws -> [String: Int]
    /// Writes (inserting or replacing) rows, in one transaction.
    func writeMetricBlocks(_ blocks: [StoredMetricBlock]) async throws
    /// The rows of these nodes in `tier` whose blocks overlap `from ..< to`, oldest first (by
    /// block start, then sequence).
    func metricBlocks(nodes: [UUID], tier: Int, from: Int64, to: Int64) async throws -> [StoredMetricBlock]
    /// The rows of these nodes' block of `tier` starting at `start` numbered `fromSequence` or
    /// more, oldest first: what merging an open block's newest chunk rows reads. Reading every
    /// row of the block instead read its largest rows (hundreds of points per series) at every
    /// merge of its smallest.
    func metricBlockRows(nodes: [UUID], tier: Int, start: Int64, fromSequence: Int) async throws -> [StoredMetricBlock]
    /// Replaces every row of each block by its compacted form (sequence 0), in one transaction.
    func compactMetricBlocks(_ blocks: [StoredMetricBlock]) async throws
    /// Replaces each merge's chunk rows by its merged row, all in one transaction.
    func mergeMetricChunks(_ merges: [MetricChunkMerge]) async throws
    /// Blocks of these nodes that still have chunk rows.
    func chunkedMetricBlocks(nodes: [UUID]) async throws -> [ChunkedMetricBlock]
    /// Deletes the blocks of `tier` that end at or before `end`; returns how many.
    func deleteMetricBlocks(tier: Int, endingBy end: Int64) async throws -> Int
    /// Deletes a node's whole history.
    func deleteMetricBlocks(node: UUID) async throws
    func metricStorageStats() async throws -> MetricStorageStats
}

extension MetricBlockStore {
    /// Through `metricBlocks`, for a store without a query of its own.
    public func metricBlockRows(nodes: [UUID], tier: Int, start: Int64, fromSequence: Int) async throws -> [StoredMetricBlock] {
        try await metricBlocks(nodes: nodes, tier: tier, from: start, to: start + 1).filter { $0.start == start && $0.sequence >= fromSequence }
    }
}
