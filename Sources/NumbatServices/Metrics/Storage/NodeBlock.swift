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

    init(start: Int64, end: Int64, width: Int) {
        self.start = start
        self.end = end
        self.width = width
    }

    func contains(_ time: Int64) -> Bool { time >= start && time < end }

    /// Appends a point to a series; a point not after the series' last one is dropped (a
    /// repeated or late collection), so stored times are strictly increasing.
    @discardableResult
    mutating func append(metric: Int, time: Int64, values: [Double]) -> Bool {
        if let last = series[metric]?.lastTime, time <= last { return false }
        // In place: the encoder's bytes are not copied on every point.
        series[metric, default: SeriesEncoder(width: width, blockStart: start)].append(time: time, values: values)
        if time < earliest { earliest = time }
        return true
    }

    var pointCount: Int { series.values.reduce(0) { $0 + $1.count } }

    /// The serialised block.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [Self.version]
        Varint.write(UInt64(series.count), into: &bytes)
        for (metric, encoder) in series.sorted(by: { $0.key < $1.key }) {
            Varint.write(UInt64(metric), into: &bytes)
            Varint.write(UInt64(encoder.width), into: &bytes)
            Varint.write(UInt64(encoder.count), into: &bytes)
            Varint.write(UInt64(encoder.writer.bitCount), into: &bytes)
            bytes += encoder.writer.bytes
        }
        return bytes
    }

    /// The points of the wanted metrics (all when nil), decoding only those series.
    static func decode(_ bytes: [UInt8], start: Int64, metrics wanted: Set<Int>? = nil) throws -> [Int: [SeriesPoint]] {
        var reader = ByteReader(bytes: bytes[...])
        guard try reader.byte() == version else { throw SeriesCodecError("unknown metric block version") }
        let seriesCount = try reader.varint()
        var result: [Int: [SeriesPoint]] = [:]
        for _ in 0..<seriesCount {
            let metric = Int(try reader.varint())
            let width = Int(try reader.varint())
            let count = Int(try reader.varint())
            let bitCount = Int(try reader.varint())
            guard (1...16).contains(width), bitCount >= 0, count <= bitCount / (width + 1) else { throw SeriesCodecError("bad series header") }
            let body = try reader.take((bitCount + 7) / 8)
            guard wanted?.contains(metric) ?? true else { continue }
            var decoder = SeriesDecoder(bytes: body, bitCount: bitCount, count: count, width: width, blockStart: start)
            result[metric] = try decoder.points()
        }
        return result
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

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count <= bytes.count else { throw SeriesCodecError("block ends inside a series") }
        defer { bytes = bytes.dropFirst(count) }
        return bytes.prefix(count)
    }
}
