import NIOConcurrencyHelpers

/// One copy of a metric history's slot mapping (each slot's metric id, and each id's slot) per
/// distinct mapping. Nodes of one kind name the same metrics in the same order, so their
/// histories give the same ids the same slots: ~4 KB per node, identical on every node
/// (heaptrack, 300 nodes). Adopting the first node's arrays shares their storage; a node that
/// later gains a metric copies them then (arrays copy on write). Consulted when a node's
/// layout changes, not per collection. Bounded: past `limit` distinct mappings, the others
/// stay the node's own (kept until the server stops: a few KB each).
enum SharedSlotMappings {
    static let limit = 64
    private static let mappings = NIOLockedValueBox<[[Int]: MetricPositions]>([:])

    /// The registered mapping equal to `metricIDs` (with its table), or these (then registered).
    static func shared(_ metricIDs: [Int], _ slots: MetricPositions) -> ([Int], MetricPositions) {
        mappings.withLockedValue { mappings in
            if let index = mappings.index(forKey: metricIDs) { return (mappings.keys[index], mappings.values[index]) }
            if mappings.count < limit { mappings[metricIDs] = slots }
            return (metricIDs, slots)
        }
    }
}
