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
    /// A registered mapping: its table, and its slots in metric id order (the order a block's
    /// series are written in), worked out once for every node that shares it.
    private struct Entry {
        var slots: MetricPositions
        var idOrder: [Int]
    }
    private static let mappings = NIOLockedValueBox<[[Int]: Entry]>([:])

    /// The registered mapping equal to `metricIDs` (with its table and its slots in id order),
    /// or these (then registered); the order is nil when the mapping could not be registered.
    static func shared(_ metricIDs: [Int], _ slots: MetricPositions) -> (metricIDs: [Int], slots: MetricPositions, idOrder: [Int]?) {
        mappings.withLockedValue { mappings in
            if let index = mappings.index(forKey: metricIDs) {
                let entry = mappings.values[index]
                return (mappings.keys[index], entry.slots, entry.idOrder)
            }
            guard mappings.count < limit else { return (metricIDs, slots, nil) }
            let idOrder = NodeBlock.metricOrder(metricIDs)
            mappings[metricIDs] = Entry(slots: slots, idOrder: idOrder)
            return (metricIDs, slots, idOrder)
        }
    }
}
