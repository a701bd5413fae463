import Foundation

/// One stored block of a node's metric history: every series of the node in one tier over
/// `start ..< end` (milliseconds since 1970), compressed by the metrics service. The store
/// treats `data` as opaque.
public struct StoredMetricBlock: Sendable, Equatable {
    public var nodeID: UUID
    public var tier: Int
    public var start: Int64
    public var end: Int64
    public var points: Int
    public var data: [UInt8]

    public init(nodeID: UUID, tier: Int, start: Int64, end: Int64, points: Int, data: [UInt8]) {
        self.nodeID = nodeID
        self.tier = tier
        self.start = start
        self.end = end
        self.points = points
        self.data = data
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
    /// Writes (inserting or replacing) blocks and the new names they use, in one transaction.
    func writeMetricBlocks(_ blocks: [StoredMetricBlock], newNames: [Int: String]) async throws
    /// The blocks of these nodes in `tier` that overlap `from ..< to`, oldest first.
    func metricBlocks(nodes: [UUID], tier: Int, from: Int64, to: Int64) async throws -> [StoredMetricBlock]
    /// Deletes the blocks of `tier` that end at or before `end`; returns how many.
    func deleteMetricBlocks(tier: Int, endingBy end: Int64) async throws -> Int
    /// Deletes a node's whole history.
    func deleteMetricBlocks(node: UUID) async throws
    func metricStorageStats() async throws -> MetricStorageStats
}
