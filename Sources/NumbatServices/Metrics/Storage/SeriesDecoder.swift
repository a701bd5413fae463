/// Reads back what `SeriesEncoder` wrote. Damaged input throws `SeriesCodecError`.
struct SeriesDecoder {
    let width: Int
    let count: Int
    /// The series' bits.
    let bitCount: Int
    private var reader: BitStreamReader
    private var time = DeltaState()
    /// As in `SeriesEncoder`: the first column inline, so a raw series makes no array (a
    /// chunk holds one point per series, and compaction reads every chunk's every series).
    private var firstColumn = DecodingColumn()
    private var otherColumns: [DecodingColumn]

    /// `bytes` is read in place, and `readable` bytes from its start may be loaded (see
    /// `BitStreamReader`).
    init(bytes: UnsafeRawBufferPointer, readable: Int? = nil, bitCount: Int, count: Int, width: Int, blockStart: Int64) {
        self.width = width
        self.count = count
        self.bitCount = bitCount
        reader = BitStreamReader(bytes, bitCount: bitCount, readable: readable)
        time.previous = blockStart
        otherColumns = width == 1 ? [] : Array(repeating: DecodingColumn(), count: width - 1)
    }

    /// Every point, in order.
    mutating func points() throws -> [SeriesPoint] {
        var points: [SeriesPoint] = []
        points.reserveCapacity(count)
        for _ in 0..<count {
            var values: [Double] = []
            values.reserveCapacity(width)
            let pointTime = try next(into: &values)
            points.append(SeriesPoint(time: pointTime, values: values))
        }
        return points
    }

    /// The next point: its time, and its values in `values` (replaced; its storage reused).
    mutating func next(into values: inout [Double]) throws -> Int64 {
        let pointTime = time.undo(try Self.readDelta(&reader))
        values.removeAll(keepingCapacity: true)
        values.append(try firstColumn.next(&reader))
        for index in otherColumns.indices { values.append(try otherColumns[index].next(&reader)) }
        return pointTime
    }

    /// The next point of a series of width 1 (raw samples): no array (compaction reads a
    /// chunk's every series, each of one point, and the array's upkeep cost as much as the bits).
    mutating func nextSingle() throws -> (time: Int64, value: Double) {
        precondition(width == 1, "nextSingle on a series of width \(width)")
        let pointTime = time.undo(try Self.readDelta(&reader))
        return (pointTime, try firstColumn.next(&reader))
    }

    /// Reads one prefix-coded delta-of-delta; nil for the float escape.
    static func readDeltaOrEscape(_ reader: inout BitStreamReader) throws -> Int64? {
        // The prefix and its payload from one window where they fit in it (all but 64-bit
        // payloads): one read of the bytes, not two.
        let window = reader.peek()
        let ones = min(6, (~window).leadingZeroBitCount)
        let bits: Int
        switch ones {
        case 0: try reader.skip(1); return 0
        case 1: bits = 7
        case 2: bits = 14
        case 3: bits = 24
        case 4: bits = 40
        case 5: bits = 64
        default: try reader.skip(6); return nil
        }
        let zigzag: UInt64
        if ones + 1 + bits <= 64 {
            try reader.skip(ones + 1 + bits)
            zigzag = (window << UInt64(ones + 1)) >> UInt64(64 - bits)
        } else {
            try reader.skip(ones + 1)
            zigzag = try reader.read(bits: bits)
        }
        return Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))
    }

    static func readDelta(_ reader: inout BitStreamReader) throws -> Int64 {
        guard let delta = try readDeltaOrEscape(&reader) else { throw SeriesCodecError("float escape in a time column") }
        return delta
    }
}

private struct DecodingColumn {
    var integral = true
    var ints = DeltaState()
    var previousBits: UInt64 = 0
    var leading = 0
    var trailing = 0

    mutating func next(_ reader: inout BitStreamReader) throws -> Double {
        if integral {
            if let delta = try SeriesDecoder.readDeltaOrEscape(&reader) {
                return Double(ints.undo(delta))
            }
            integral = false
            previousBits = try reader.read(bits: 64)
            return Double(bitPattern: previousBits)
        }
        guard try reader.readBit() else { return Double(bitPattern: previousBits) }
        if try reader.readBit() {
            leading = Int(try reader.read(bits: 5))
            let length = Int(try reader.read(bits: 6)) + 1
            guard leading + length <= 64 else { throw SeriesCodecError("float window out of range") }
            trailing = 64 - leading - length
        }
        let meaningful = 64 - leading - trailing
        guard meaningful > 0 else { throw SeriesCodecError("float window out of range") }
        previousBits ^= try reader.read(bits: meaningful) << UInt64(trailing)
        return Double(bitPattern: previousBits)
    }
}
