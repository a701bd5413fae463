extension NodeBlock {
    /// The layout of a raw chunk of one collection (`encodedRaw`): version byte 2, varint
    /// series count, the collection's time as a zigzag varint offset from the block's start,
    /// then per series, in metric id order: its id (the first as it is, each next as the step
    /// from the one before, at least 1), and its value: an integer (up to 2^53, as the series
    /// codec takes them) as a varint of its zigzag shifted left by one; any other value as a
    /// byte 1 and its 8 bytes, little-endian.
    ///
    /// A flush writes one such row per node, and a merge of the block's rows reads sixteen of
    /// them back. As blocks of one point per series (version 1), each series cost the row four
    /// header varints, a decoder and a first point of a whole delta and a whole value, and
    /// merging them 650 instructions a point: the merges were a sixth of a metric collection's
    /// instructions. Here a series is an id's byte and its value's few, and a merge reads it
    /// with two varints.
    static let collectionVersion: UInt8 = 2

    /// The chunk of a raw block starting at `start` that holds one point per series, all at
    /// `time`: `values[i]` of metric `metrics[i]` (distinct, non-negative ids), in the layout
    /// above. Written straight from the collection: a flush takes one collection per node (at
    /// collections from one second apart), and made into a block first, its ~125 series
    /// encoders, their bit buffers and the table of their positions were each made and freed
    /// again.
    ///
    /// `order` is `metricOrder(metrics)` when the caller has it already (a node's history keeps
    /// it for its slots: working it out took 11,600 instructions a chunk). A repeated id (none
    /// comes: a node's history takes one point per metric per collection) keeps one of its
    /// values, as a block drops a second point at the same time; a negative one is left out:
    /// the chunk stays one the readers take.
    static func encodedRaw(start: Int64, time: Int64, metrics: [Int], values: [Double], order: [Int]? = nil) -> [UInt8] {
        precondition(metrics.count == values.count, "\(metrics.count) metrics for \(values.count) values")
        let order = order ?? metricOrder(metrics)
        assert(order == metricOrder(metrics), "series order given is not the metrics' id order")
        // The header's three varints, then at most a 10-byte id and a 9-byte value a series.
        let bound = 21 + metrics.count * 19
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { scratch in
            let base = scratch.baseAddress!
            var written = 0
            metrics.withUnsafeBufferPointer { metrics in
                values.withUnsafeBufferPointer { values in
                    // The ids kept: increasing, each past the one before (-1: none yet).
                    var kept = 0
                    var previous = -1
                    for position in order where metrics[position] > previous {
                        kept += 1
                        previous = metrics[position]
                    }
                    base[0] = collectionVersion
                    written = 1 + Varint.write(UInt64(kept), to: base + 1)
                    written += Varint.write(zigzag(time &- start), to: base + written)
                    previous = -1
                    for position in order where metrics[position] > previous {
                        let metric = metrics[position]
                        written += Varint.write(UInt64(previous < 0 ? metric : metric - previous), to: base + written)
                        previous = metric
                        written += writeValue(values[position], to: base + written)
                    }
                }
            }
            precondition(written <= bound, "a raw chunk outgrew its bound")
            return [UInt8](UnsafeBufferPointer(rebasing: scratch[..<written]))
        }
    }

    /// A value as the layout above keeps it; answers the bytes written (at most 9).
    @inline(__always)
    private static func writeValue(_ value: Double, to pointer: UnsafeMutablePointer<UInt8>) -> Int {
        // Integral as `ColumnState` judges it (-0.0 is not: as one it would come back as 0.0).
        if abs(value) <= SeriesEncoder.integralLimit, Double(Int64(value)) == value, !(value == 0 && value.sign == .minus) {
            return Varint.write(zigzag(Int64(value)) << 1, to: pointer)
        }
        pointer[0] = 1
        UnsafeMutableRawPointer(pointer + 1).storeBytes(of: value.bitPattern.littleEndian, as: UInt64.self)
        return 9
    }

    @inline(__always)
    private static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    @inline(__always)
    private static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1))) }

    /// Hands each point of a chunk of one collection (`collectionVersion`) to `body` (metric,
    /// time, value) in id order, until `body` answers false; false then. A damaged chunk
    /// throws `SeriesCodecError` where the damage is found.
    static func forEachCollectionPoint(in bytes: UnsafeRawBufferPointer, start: Int64,
                                       _ body: (Int, Int64, Double) throws -> Bool) throws -> Bool {
        var reader = ByteReader(bytes)
        guard try reader.byte() == collectionVersion else { throw SeriesCodecError("not a chunk of one collection") }
        let count = try reader.int()
        // Each series takes two bytes at least.
        guard count <= (bytes.count - reader.position) / 2 else { throw SeriesCodecError("more series than a chunk's bytes hold") }
        let time = start &+ unzigzag(try reader.varint())
        var metric = 0
        for index in 0..<count {
            let step = try reader.int()
            if index == 0 {
                metric = step
            } else {
                guard step > 0 else { throw SeriesCodecError("metric ids out of order in a chunk") }
                let (next, overflow) = metric.addingReportingOverflow(step)
                guard !overflow else { throw SeriesCodecError("a metric id past Int.max in a chunk") }
                metric = next
            }
            let tagged = try reader.varint()
            let value: Double
            if tagged & 1 == 0 {
                value = Double(unzigzag(tagged >> 1))
            } else {
                guard tagged == 1 else { throw SeriesCodecError("bad value tag in a chunk") }
                let bytes = try reader.take(8)
                value = Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)))
            }
            guard try body(metric, time, value) else { return false }
        }
        guard reader.isAtEnd else { throw SeriesCodecError("bytes after a chunk's last series") }
        return true
    }
}
