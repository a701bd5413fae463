/// One point of a series: a time in milliseconds since 1970 and `width` values (1 for raw
/// samples; average, minimum and maximum for roll-ups).
struct SeriesPoint: Sendable, Equatable {
    var time: Int64
    var values: [Double]
}

/// Gorilla-style compression of one series, appended to incrementally (the open block of a
/// node grows by one point per collection). Pure: no I/O.
///
/// Times: delta-of-delta against the previous point (the first against the block start), so a
/// regular collection costs one bit per point. Values, per column: integral values (most VM
/// metrics: bytes, counts) as delta-of-delta integers, the first non-integral value switching
/// the column to XOR-of-previous floats (Gorilla) for the rest of the block.
struct SeriesEncoder: Sendable, Equatable {
    let width: Int
    let blockStart: Int64
    private(set) var writer = BitStreamWriter()
    private(set) var count = 0
    private var time = DeltaState()
    /// The first column inline and the others (roll-ups' minimum, maximum, count) in an array:
    /// a raw series makes no array (one allocation fewer per series per chunk).
    private var firstColumn = ColumnState()
    private var otherColumns: [ColumnState]

    init(width: Int, blockStart: Int64) {
        precondition(width >= 1)
        self.width = width
        self.blockStart = blockStart
        otherColumns = width == 1 ? [] : Array(repeating: ColumnState(), count: width - 1)
        time.previous = blockStart
    }

    /// Appends a point; times must not go backwards (a point at the same millisecond replaces
    /// nothing: callers drop it first). Generic so that a raw value passes as a
    /// `CollectionOfOne`, not an array made per point.
    mutating func append(time pointTime: Int64, values: some Collection<Double>) {
        precondition(values.count == width, "a point of \(values.count) values in a series of width \(width)")
        SeriesEncoder.writeDelta(time.next(pointTime), into: &writer)
        var index = values.startIndex
        firstColumn.append(values[index], into: &writer)
        for column in otherColumns.indices {
            index = values.index(after: index)
            otherColumns[column].append(values[index], into: &writer)
        }
        count += 1
    }

    var lastTime: Int64? { count == 0 ? nil : time.previous }

    /// Room for `bits` bits in all, made at once.
    mutating func reserveBits(_ bits: Int) { writer.reserveCapacity(bits: bits) }

    /// The bytes `store(metric:to:)` writes.
    func storedSize(metric: Int) -> Int {
        Varint.size(UInt64(metric)) + Varint.size(UInt64(width)) + Varint.size(UInt64(count))
            + Varint.size(UInt64(writer.bitCount)) + writer.byteCount
    }

    /// Writes this series as a block holds it (metric id, width, point count, bit count, the
    /// bits) at `pointer`; answers the bytes written.
    func store(metric: Int, to pointer: UnsafeMutablePointer<UInt8>) -> Int {
        var written = Varint.write(UInt64(metric), to: pointer)
        written += Varint.write(UInt64(width), to: pointer + written)
        written += Varint.write(UInt64(count), to: pointer + written)
        written += Varint.write(UInt64(writer.bitCount), to: pointer + written)
        return written + writer.copyBytes(to: pointer + written)
    }

    /// Appends a point after the series' last one; a point not after it is dropped (false).
    @discardableResult
    mutating func appendIfAfter(time pointTime: Int64, values: some Collection<Double>) -> Bool {
        if count > 0, pointTime <= time.previous { return false }
        append(time: pointTime, values: values)
        return true
    }

    /// The prefix code of a delta-of-delta: `0`; `10`+7; `110`+14; `1110`+24; `11110`+40;
    /// `111110`+64 bits of zigzag. `111111` is the escape to float mode (values only).
    static func writeDelta(_ value: Int64, into writer: inout some BitSink) {
        let zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        // The prefix and its payload in one write where they fit 64 bits together.
        switch zigzag {
        case 0: writer.write(0, bits: 1)
        case ..<(1 << 7): writer.write(0b10 << 7 | zigzag, bits: 2 + 7)
        case ..<(1 << 14): writer.write(0b110 << 14 | zigzag, bits: 3 + 14)
        case ..<(1 << 24): writer.write(0b1110 << 24 | zigzag, bits: 4 + 24)
        case ..<(1 << 40): writer.write(0b11110 << 40 | zigzag, bits: 5 + 40)
        default: writer.write(0b111110, bits: 6); writer.write(zigzag, bits: 64)
        }
    }

    static let floatEscape: UInt64 = 0b111111
    /// Integers are kept exact up to 2^53, where doubles stop holding every integer.
    static let integralLimit: Double = 9_007_199_254_740_992
}

/// Delta-of-delta state of an integer sequence.
struct DeltaState: Sendable, Equatable {
    var previous: Int64 = 0
    var previousDelta: Int64 = 0

    /// The delta-of-delta of `value`, moving the state on. Wrapping arithmetic: extreme values
    /// round-trip through the same wrapping on decode.
    mutating func next(_ value: Int64) -> Int64 {
        let delta = value &- previous
        defer { previous = value; previousDelta = delta }
        return delta &- previousDelta
    }

    mutating func undo(_ deltaOfDelta: Int64) -> Int64 {
        let delta = previousDelta &+ deltaOfDelta
        previous = previous &+ delta
        previousDelta = delta
        return previous
    }
}

/// One value column: integers until the first non-integral value, then XOR floats.
struct ColumnState: Sendable, Equatable {
    var integral = true
    var ints = DeltaState()
    var previousBits: UInt64 = 0
    var leading = 0
    var trailing = 0
    var started = false

    mutating func append(_ value: Double, into writer: inout some BitSink) {
        if integral {
            // -0.0 is not an integer here: as one it would come back as 0.0 (MetricBlockFuzz).
            // Integral when it converts to Int64 and back unchanged, checked in range first (NaN
            // fails it): `rounded()` is a call into libm on the baseline x86-64 target.
            if abs(value) <= SeriesEncoder.integralLimit, Double(Int64(value)) == value, !(value == 0 && value.sign == .minus) {
                SeriesEncoder.writeDelta(ints.next(Int64(value)), into: &writer)
                return
            }
            integral = false
            writer.write(SeriesEncoder.floatEscape, bits: 6)
            writer.write(value.bitPattern, bits: 64)
            startFloats(at: value.bitPattern)
            return
        }
        let bits = value.bitPattern
        let xor = bits ^ previousBits
        previousBits = bits
        if xor == 0 {
            writer.write(0, bits: 1)
            return
        }
        writer.write(1, bits: 1)
        let newLeading = min(xor.leadingZeroBitCount, 31)
        let newTrailing = xor.trailingZeroBitCount
        if started, newLeading >= leading, newTrailing >= trailing {
            writer.write(0, bits: 1)
            writer.write(xor >> UInt64(trailing), bits: 64 - leading - trailing)
        } else {
            let length = 64 - newLeading - newTrailing
            writer.write(1, bits: 1)
            writer.write(UInt64(newLeading), bits: 5)
            writer.write(UInt64(length - 1), bits: 6)
            writer.write(xor >> UInt64(newTrailing), bits: length)
            leading = newLeading
            trailing = newTrailing
            started = true
        }
    }

    private mutating func startFloats(at bits: UInt64) {
        previousBits = bits
        started = false
    }
}
