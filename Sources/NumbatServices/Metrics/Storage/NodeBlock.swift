/// Every series of one node in one tier over one time window (`start ..< end`, milliseconds):
/// the unit of storage, one row in the store. Series are keyed by metric id (the store's name
/// dictionary), so a block carries no metric names. Pure.
///
/// Layout: version byte, varint series count, then per series: varint metric id, varint width,
/// varint point count, varint bit count, the bits.
struct NodeBlock: Sendable, Equatable {
    let start: Int64
    let end: Int64
    let width: Int
    private(set) var series: [Int: SeriesEncoder] = [:]
    /// The time of its earliest point (`.max` while empty): what `NodeSeries.writtenThrough`
    /// stops before while the block is not yet written.
    private(set) var earliest: Int64 = .max

    static let version: UInt8 = 1

    /// `capacity`: the series expected (a node's metric count), so the dictionary is made once
    /// rather than grown eight times in every chunk.
    init(start: Int64, end: Int64, width: Int, capacity: Int = 0) {
        self.start = start
        self.end = end
        self.width = width
        if capacity > 0 { series.reserveCapacity(capacity) }
    }

    func contains(_ time: Int64) -> Bool { time >= start && time < end }

    /// Appends a point to a series; a point not after the series' last one is dropped (a
    /// repeated or late collection), so stored times are strictly increasing.
    @discardableResult
    mutating func append(metric: Int, time: Int64, values: some Collection<Double>) -> Bool {
        // In place (one lookup, no copy of the encoder's bytes).
        let (start, width) = (start, width)
        let appended = series[metric, default: SeriesEncoder(width: width, blockStart: start)].appendIfAfter(time: time, values: values)
        if appended, time < earliest { earliest = time }
        return appended
    }

    var pointCount: Int { series.values.reduce(0) { $0 + $1.count } }

    /// The serialised block.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [Self.version]
        bytes.reserveCapacity(1 + series.values.reduce(0) { $0 + 16 + ($1.writer.bitCount + 7) / 8 })
        Varint.write(UInt64(series.count), into: &bytes)
        // The keys sorted, not the (key, encoder) pairs: sorting those moved whole encoders.
        for metric in series.keys.sorted() {
            let encoder = series[metric]!
            Varint.write(UInt64(metric), into: &bytes)
            Varint.write(UInt64(encoder.width), into: &bytes)
            Varint.write(UInt64(encoder.count), into: &bytes)
            Varint.write(UInt64(encoder.writer.bitCount), into: &bytes)
            encoder.writer.append(to: &bytes)
        }
        return bytes
    }

    /// The points of the wanted metrics (all when nil), decoding only those series.
    static func decode(_ bytes: [UInt8], start: Int64, metrics wanted: Set<Int>? = nil) throws -> [Int: [SeriesPoint]] {
        var result: [Int: [SeriesPoint]] = [:]
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
    mutating func append(stored bytes: [UInt8], start rowStart: Int64) throws -> Bool {
        var values: [Double] = []
        values.reserveCapacity(width)
        let (start, width) = (start, width)
        return try Self.forEachSeries(bytes, start: rowStart) { metric, decoder in
            guard decoder.width == width else { throw SeriesCodecError("a series of width \(decoder.width) in a block of width \(width)") }
            // One lookup per series (the encoder mutated in place), not one per point.
            guard let first = try Self.appendPoints(of: &decoder, to: &series[metric, default: SeriesEncoder(width: width, blockStart: start)],
                                                    values: &values) else { return false }
            if first < earliest { earliest = first }
            return true
        }
    }

    /// Appends every point `decoder` has left to `encoder`: the first point's time (`.max`
    /// when none), or nil at the first point not after the encoder's last.
    private static func appendPoints(of decoder: inout SeriesDecoder, to encoder: inout SeriesEncoder, values: inout [Double]) throws -> Int64? {
        var first = Int64.max
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
        var reader = ByteReader(bytes: bytes[...])
        guard try reader.byte() == version else { throw SeriesCodecError("unknown metric block version") }
        let seriesCount = try reader.varint()
        for _ in 0..<seriesCount {
            let metric = try reader.int()
            let width = try reader.int()
            let count = try reader.int()
            let bitCount = try reader.int()
            guard (1...16).contains(width), bitCount >= 0, count <= bitCount / (width + 1) else { throw SeriesCodecError("bad series header") }
            let bits = try reader.take(bitCount / 8 + (bitCount % 8 == 0 ? 0 : 1))  // no overflow near Int.max
            var decoder = SeriesDecoder(bytes: bits, bitCount: bitCount, count: count, width: width, blockStart: start)
            guard try body(metric, &decoder) else { return false }
        }
        return true
    }
}

/// LEB128 unsigned varints.
enum Varint {
    static func write(_ value: UInt64, into bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }
}

/// Reads bytes and varints from a block; running out throws.
struct ByteReader {
    var bytes: ArraySlice<UInt8>

    mutating func byte() throws -> UInt8 {
        guard let first = bytes.first else { throw SeriesCodecError("block ends early") }
        bytes = bytes.dropFirst()
        return first
    }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
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

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count <= bytes.count else { throw SeriesCodecError("block ends inside a series") }
        defer { bytes = bytes.dropFirst(count) }
        return bytes.prefix(count)
    }
}
