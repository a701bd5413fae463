extension NodeBlock {
    /// The bytes `encoded()` gives for a raw block starting at `start` that holds one point
    /// per series, all at `time`: `values[i]` of metric `metrics[i]` (distinct ids). Written
    /// straight from the collection, one series after another, each series' bits in place: a
    /// flush takes one collection per node (at collections from one second apart), and made
    /// into a block first, its ~125 series encoders, their bit buffers and the table of their
    /// positions were each made and freed again.
    ///
    /// `order` is `metricOrder(metrics)` when the caller has it already (a node's history keeps
    /// it for its slots: working it out took 11,600 instructions a chunk).
    static func encodedRaw(start: Int64, time: Int64, metrics: [Int], values: [Double], order: [Int]? = nil) -> [UInt8] {
        precondition(metrics.count == values.count, "\(metrics.count) metrics for \(values.count) values")
        let order = order ?? metricOrder(metrics)
        assert(order == metricOrder(metrics), "series order given is not the metrics' id order")
        // The most a series takes: four varints (an id of up to 10 bytes, width, count, bit
        // count) and one point's bits (a 64-bit time delta and a float: 140 bits, 18 bytes).
        let bound = 1 + Varint.size(UInt64(metrics.count)) + metrics.count * 32
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound + pointBound) { scratch in
            let base = scratch.baseAddress!
            // Each series' bits go first to the room past `bound`, then after their bit count.
            let pointBits = base + bound
            base[0] = version
            var written = 1 + Varint.write(UInt64(metrics.count), to: base + 1)
            for position in order {
                // A series' first point, as `SeriesEncoder.append` writes it: the time's delta
                // from the block's start, then the value as a new column's first.
                var bits = PointerBitWriter(pointBits)
                SeriesEncoder.writeDelta(time &- start, into: &bits)
                var column = ColumnState()
                column.append(values[position], into: &bits)
                let bitCount = bits.bitCount
                let byteCount = bits.finish()
                written += Varint.write(UInt64(metrics[position]), to: base + written)
                base[written] = 1  // width
                base[written + 1] = 1  // points
                written += 2
                written += Varint.write(UInt64(bitCount), to: base + written)
                (base + written).update(from: pointBits, count: byteCount)
                written += byteCount
            }
            precondition(written <= bound, "a raw block outgrew its bound")
            return [UInt8](UnsafeBufferPointer(rebasing: scratch[..<written]))
        }
    }

    /// The most one point's bits take: a 64-bit time delta and a float (140 bits), rounded up
    /// to whole 64-bit words, as `PointerBitWriter` stores them.
    private static let pointBound = 24
}
