/// Bits packed most significant first, for the series codec. Pure.
struct BitStreamWriter: Sendable, Equatable {
    private(set) var bytes: [UInt8] = []
    /// Bits written; the last byte is full when this is a multiple of 8.
    private(set) var bitCount = 0

    /// Appends the low `bits` (0...64) bits of `value`.
    mutating func write(_ value: UInt64, bits: Int) {
        var remaining = bits
        while remaining > 0 {
            let used = bitCount & 7
            if used == 0 { bytes.append(0) }
            let free = 8 - used
            let take = min(free, remaining)
            let shift = remaining - take
            let chunk = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & ((1 << UInt64(take)) - 1))
            bytes[bytes.count - 1] |= chunk << UInt8(free - take)
            remaining -= take
            bitCount += take
        }
    }

    mutating func write(bit: Bool) { write(bit ? 1 : 0, bits: 1) }
}

/// Reads what `BitStreamWriter` wrote. Reading past the end throws, so a damaged block is an
/// error, never a crash.
struct BitStreamReader {
    private let bytes: ArraySlice<UInt8>
    private var position = 0
    private let limit: Int

    init(_ bytes: ArraySlice<UInt8>, bitCount: Int? = nil) {
        self.bytes = bytes
        limit = bitCount ?? bytes.count * 8
    }

    var bitsLeft: Int { limit - position }

    mutating func read(bits: Int) throws -> UInt64 {
        guard bits <= bitsLeft else { throw SeriesCodecError("block ends inside a value") }
        var value: UInt64 = 0
        var remaining = bits
        while remaining > 0 {
            let byte = bytes[bytes.startIndex + (position >> 3)]
            let used = position & 7
            let take = min(8 - used, remaining)
            let chunk = (UInt64(byte) >> UInt64(8 - used - take)) & ((1 << UInt64(take)) - 1)
            value = (value << UInt64(take)) | chunk
            remaining -= take
            position += take
        }
        return value
    }

    mutating func readBit() throws -> Bool { try read(bits: 1) == 1 }
}

/// A damaged or foreign block.
struct SeriesCodecError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
