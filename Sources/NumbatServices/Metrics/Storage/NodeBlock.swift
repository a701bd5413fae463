/// Every series of one node in one tier over one time window (`start ..< end`, milliseconds):
/// the unit of storage, one row in the store. Series are keyed by metric id (the store's name
/// dictionary), so a block carries no metric names. Pure.
///
/// Layout (`version` 1): version byte, varint series count, then per series: varint metric id,
/// varint width, varint point count, varint bit count, the bits. A flush's raw chunk of one
/// collection has a layout of its own (`collectionVersion`, `NodeBlock+OneCollection.swift`);
/// every reader of stored rows (`decode`, `append(stored:)`) takes both.
struct NodeBlock: Sendable {
    let start: Int64
    let end: Int64
    let width: Int
    /// The series' metric ids and encoders, in the order they were first appended, and where
    /// each id is: arrays, so a series is encoded and appended to in place, with no copy of an
    /// encoder out of a dictionary and no SipHash per lookup.
    private(set) var metrics: [Int] = []
    private var encoders: [SeriesEncoder] = []
    private var positions: MetricPositions
    /// The time of its earliest point (`.max` while empty): what `NodeSeries.writtenThrough`
    /// stops before while the block is not yet written.
    private(set) var earliest: Int64 = .max

    static let version: UInt8 = 1

    /// `capacity`: the series expected (a node's metric count), so the arrays are made once
    /// rather than grown eight times in every chunk.
    init(start: Int64, end: Int64, width: Int, capacity: Int = 0) {
        self.start = start
        self.end = end
        self.width = width
        positions = MetricPositions(capacity: capacity)
        if capacity > 0 {
            metrics.reserveCapacity(capacity)
            encoders.reserveCapacity(capacity)
        }
    }

    func contains(_ time: Int64) -> Bool { time >= start && time < end }

    var isEmpty: Bool { metrics.isEmpty }

    /// Where `metric`'s series is, made (empty) if it has none yet.
    @inline(__always)
    private mutating func position(of metric: Int) -> Int {
        if let position = positions.position(of: metric) { return position }
        let position = metrics.count
        metrics.append(metric)
        encoders.append(SeriesEncoder(width: width, blockStart: start))
        positions.insert(metric, at: position)
        return position
    }

    /// Appends a point to a series; a point not after the series' last one is dropped (a
    /// repeated or late collection), so stored times are strictly increasing.
    @discardableResult
    mutating func append(metric: Int, time: Int64, values: some Collection<Double>) -> Bool {
        let position = position(of: metric)
        let appended = encoders[position].appendIfAfter(time: time, values: values)
        if appended, time < earliest { earliest = time }
        return appended
    }

    /// Read in place, as `encoded()` reads the encoders.
    var pointCount: Int {
        encoders.withUnsafeBufferPointer { encoders in
            var total = 0
            for position in encoders.indices { total += encoders[position].count }
            return total
        }
    }

    /// The positions of the series in metric order (so a block encodes to the same bytes
    /// however it was built). Metric ids are the store's small dense numbers: put in place by
    /// id, not sorted (sorting a chunk's ~125 ids cost more than writing them); sorted when
    /// they are sparse.
    private func seriesInMetricOrder() -> [Int] { Self.metricOrder(metrics) }

    /// The positions of `metrics` (distinct ids) in id order.
    static func metricOrder(_ metrics: [Int]) -> [Int] {
        guard let lowest = metrics.min(), let highest = metrics.max() else { return [] }  // (MetricBlockFuzz: no ids, no range)
        guard lowest >= 0, highest < 4 * metrics.count + 256 else {
            return metrics.indices.sorted { metrics[$0] < metrics[$1] }
        }
        var byMetric = [Int](repeating: -1, count: highest + 1)
        for (position, metric) in metrics.enumerated() { byMetric[metric] = position }
        return byMetric.filter { $0 >= 0 }
    }

    /// The serialised block, written in place into an array of its exact size: a chunk is
    /// ~125 series of a few bytes each, and appending header varints and bits to a growing
    /// array cost more per series than the bits themselves.
    ///
    /// The encoders are read through a buffer pointer: through the array, each was copied out
    /// (its two arrays retained and released) twice per series, 2.5 % of a collection's
    /// instructions (scripts/callgrind-metrics.sh).
    func encoded() -> [UInt8] {
        let order = seriesInMetricOrder()
        let count = metrics.count
        return encoders.withUnsafeBufferPointer { encoders in
            metrics.withUnsafeBufferPointer { metrics in
                var size = 1 + Varint.size(UInt64(count))
                for position in order { size += encoders[position].storedSize(metric: metrics[position]) }
                return [UInt8](unsafeUninitializedCapacity: size) { buffer, written in
                    let base = buffer.baseAddress!
                    base[0] = Self.version
                    written = 1 + Varint.write(UInt64(count), to: base + 1)
                    for position in order { written += encoders[position].store(metric: metrics[position], to: base + written) }
                    precondition(written == size, "a block's size was miscounted")
                }
            }
        }
    }

    /// The points of the wanted metrics (all when nil), decoding only those series.
    static func decode(_ bytes: [UInt8], start: Int64, metrics wanted: Set<Int>? = nil) throws -> [Int: [SeriesPoint]] {
        var result: [Int: [SeriesPoint]] = [:]
        if bytes.first == collectionVersion {
            _ = try bytes.withUnsafeBytes { bytes in
                try forEachCollectionPoint(in: bytes, start: start) { metric, time, value in
                    if wanted?.contains(metric) ?? true { result[metric] = [SeriesPoint(time: time, values: [value])] }
                    return true
                }
            }
            return result
        }
        _ = try forEachSeries(bytes, start: start) { metric, decoder in
            if wanted?.contains(metric) ?? true { result[metric] = try decoder.points() }
            return true
        }
        return result
    }

    /// Appends every point of a stored row of this block (the compacted block or a chunk)
    /// straight from its bytes into the series' encoders: no `SeriesPoint` and no array per
    /// point, which compaction, re-encoding a whole block every few chunks, spent most of its
    /// time making. False (part-way: discard the block) at the first point not after its
    /// series' last, which `MetricArchive.merged` sorts out instead.
    ///
    /// `rowsLeft`: the bytes of this row and of the rows of this block still to come, when
    /// known. A series new in this row then gets its room at once, in proportion (its bits in
    /// this row, times those bytes over this row's), rather than doubled again and again as
    /// the rows come; a series first seen in a late row gets room for the rows after it only.
    mutating func append(stored bytes: [UInt8], start rowStart: Int64, rowsLeft: Int? = nil) throws -> Bool {
        if bytes.first == Self.collectionVersion { return try append(collection: bytes, start: rowStart, rowsLeft: rowsLeft) }
        var values: [Double] = []
        if width > 1 { values.reserveCapacity(width) }
        let width = width
        let scale = bytes.isEmpty ? 0 : Double(rowsLeft ?? 0) / Double(bytes.count)
        return try Self.forEachSeries(bytes, start: rowStart) { metric, decoder in
            guard decoder.width == width else { throw SeriesCodecError("a series of width \(decoder.width) in a block of width \(width)") }
            // One lookup per series (the encoder mutated in place), not one per point.
            let position = position(of: metric)
            if scale > 1, encoders[position].count == 0 { encoders[position].reserveBits(Int(Double(decoder.bitCount) * scale)) }
            guard let first = try Self.appendPoints(of: &decoder, to: &encoders[position], values: &values) else { return false }
            if first < earliest { earliest = first }
            return true
        }
    }

    /// `append(stored:)` of a chunk of one collection (`collectionVersion`). The chunks of a
    /// node list the same metrics, in id order, as the block (built from them) does: each
    /// series is looked for first at the position after the last one's.
    private mutating func append(collection bytes: [UInt8], start rowStart: Int64, rowsLeft: Int?) throws -> Bool {
        guard width == 1 else { throw SeriesCodecError("a raw chunk in a block of width \(width)") }
        // A series new in this chunk gets room for a point of each chunk still to come: the
        // chunks of a block are much the same size; a point's bits, as a merge's writer takes
        // them, a few bytes at most.
        let reserve = bytes.isEmpty ? 0 : (rowsLeft ?? 0) / bytes.count * Self.bitsPerMergedPoint
        var next = 0
        return try bytes.withUnsafeBytes { bytes in
            try Self.forEachCollectionPoint(in: bytes, start: rowStart) { metric, time, value in
                let position = next < metrics.count && metrics[next] == metric ? next : position(of: metric)
                next = position + 1
                if reserve > 64, encoders[position].count == 0 { encoders[position].reserveBits(reserve) }
                guard encoders[position].appendIfAfter(time: time, values: CollectionOfOne(value)) else { return false }
                if time < earliest { earliest = time }
                return true
            }
        }
    }

    /// Bits reserved per point for a merge of chunks (a regular collection's point takes one
    /// for its time and a few for its value; more are made if needed).
    private static let bitsPerMergedPoint = 24

    /// Appends every point `decoder` has left to `encoder`: the first point's time (`.max`
    /// when none), or nil at the first point not after the encoder's last.
    private static func appendPoints(of decoder: inout SeriesDecoder, to encoder: inout SeriesEncoder, values: inout [Double]) throws -> Int64? {
        var first = Int64.max
        if decoder.width == 1 {
            for index in 0..<decoder.count {
                let (time, value) = try decoder.nextSingle()
                guard encoder.appendIfAfter(time: time, values: CollectionOfOne(value)) else { return nil }
                if index == 0 { first = time }
            }
            return first
        }
        for index in 0..<decoder.count {
            let time = try decoder.next(into: &values)
            guard encoder.appendIfAfter(time: time, values: values) else { return nil }
            if index == 0 { first = time }
        }
        return first
    }

    /// Reads a stored block's header and each series' header, handing each series' decoder to
    /// `body` (which need not read it) until `body` answers false; false then.
    private static func forEachSeries(_ bytes: [UInt8], start: Int64, _ body: (Int, inout SeriesDecoder) throws -> Bool) throws -> Bool {
        try bytes.withUnsafeBytes { try forEachSeries(in: $0, start: start, body) }
    }

    /// `forEachSeries` over the row's bytes in place: the readers and decoders it hands out
    /// point into them, and live only for this call.
    private static func forEachSeries(in bytes: UnsafeRawBufferPointer, start: Int64, _ body: (Int, inout SeriesDecoder) throws -> Bool) throws -> Bool {
        var reader = ByteReader(bytes)
        guard try reader.byte() == version else { throw SeriesCodecError("unknown metric block version") }
        let seriesCount = try reader.varint()
        for _ in 0..<seriesCount {
            let metric = try reader.int()
            let width = try reader.int()
            let count = try reader.int()
            let bitCount = try reader.int()
            guard (1...16).contains(width), bitCount >= 0, count <= bitCount / (width + 1) else { throw SeriesCodecError("bad series header") }
            let readable = bytes.count - reader.position  // to the row's end
            let bits = try reader.take(bitCount / 8 + (bitCount % 8 == 0 ? 0 : 1))  // no overflow near Int.max
            var decoder = SeriesDecoder(bytes: bits, readable: readable, bitCount: bitCount, count: count, width: width, blockStart: start)
            guard try body(metric, &decoder) else { return false }
        }
        return true
    }
}

extension NodeBlock: Equatable {
    /// Equal when they hold the same series, in whatever order they were added.
    static func == (lhs: NodeBlock, rhs: NodeBlock) -> Bool {
        guard lhs.start == rhs.start, lhs.end == rhs.end, lhs.width == rhs.width, lhs.earliest == rhs.earliest,
              lhs.metrics.count == rhs.metrics.count else { return false }
        return lhs.metrics.indices.allSatisfy { position in
            rhs.positions.position(of: lhs.metrics[position]).map { rhs.encoders[$0] == lhs.encoders[position] } ?? false
        }
    }
}

/// LEB128 unsigned varints.
enum Varint {
    static func size(_ value: UInt64) -> Int {
        max(1, (64 - value.leadingZeroBitCount + 6) / 7)
    }

    /// Writes `value` at `pointer` (room for `size(value)` bytes); answers the bytes written.
    @inline(__always)
    static func write(_ value: UInt64, to pointer: UnsafeMutablePointer<UInt8>) -> Int {
        var rest = value
        var written = 0
        while rest >= 0x80 {
            pointer[written] = UInt8(truncatingIfNeeded: rest) | 0x80
            rest >>= 7
            written += 1
        }
        pointer[written] = UInt8(rest)
        return written + 1
    }
}

/// Reads bytes and varints from a block in place (valid only inside the `withUnsafeBytes` of
/// the bytes it reads, as `BitStreamReader`); running out throws.
struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { position == bytes.count }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw SeriesCodecError("block ends early") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws -> UInt64 {
        // A series header's varints are one byte each but for the bit count of a long series.
        let first = try byte()
        guard first & 0x80 != 0 else { return UInt64(first) }
        var value = UInt64(first & 0x7F)
        for shift in stride(from: 7, to: 64, by: 7) {
            let next = try byte()
            value |= UInt64(next & 0x7F) << UInt64(shift)
            if next & 0x80 == 0 { return value }
        }
        throw SeriesCodecError("varint too long")
    }

    /// A varint that fits an `Int` (a damaged block's may not: an error, not a trap; found by
    /// MetricBlockFuzz).
    mutating func int() throws -> Int {
        guard let value = Int(exactly: try varint()) else { throw SeriesCodecError("a number past Int.max in a block header") }
        return value
    }

    mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count <= bytes.count - position else { throw SeriesCodecError("block ends inside a series") }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }
}
