/// Bits packed most significant first, for the series codec. Pure.
///
/// Bits gather in a 64-bit word and go to `full` eight bytes at a time: a point is a handful of
/// writes of 1 to 64 bits, and appending byte by byte (a uniqueness check and a bounds check
/// per byte) was the codec's largest cost (scripts/callgrind-store.sh, docs/benchmarks.md).
struct BitStreamWriter: Sendable, Equatable {
    /// Whole 64-bit words written, most significant byte first.
    private var full: [UInt8] = []
    /// The bits after `full`, right-aligned (the oldest highest): `pending` of them.
    private var word: UInt64 = 0
    private var pending = 0

    /// Bits written; the last byte is full when this is a multiple of 8.
    var bitCount: Int { full.count * 8 + pending }

    /// Every bit written, the last byte padded with zeros.
    var bytes: [UInt8] {
        guard byteCount > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, count in count = copyBytes(to: buffer.baseAddress!) }
    }

    /// The bytes `bytes` holds.
    var byteCount: Int { full.count + (pending + 7) / 8 }

    /// Writes `bytes` at `pointer` (room for `byteCount`) without making it; answers
    /// `byteCount`.
    func copyBytes(to pointer: UnsafeMutablePointer<UInt8>) -> Int {
        if !full.isEmpty { full.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: $0.count) } }
        let tail = (pending + 7) / 8
        if tail > 0 {
            let aligned = (word << UInt64(64 - pending)).bigEndian
            withUnsafeBytes(of: aligned) { raw in
                for offset in 0..<tail { pointer[full.count + offset] = raw[offset] }
            }
        }
        return full.count + tail
    }

    /// Appends the low `bits` (0...64) bits of `value`.
    mutating func write(_ value: UInt64, bits: Int) {
        guard bits > 0 else { return }
        let value = bits == 64 ? value : value & ((1 << UInt64(bits)) - 1)
        let room = 64 - pending
        if bits < room {
            word = (word << UInt64(bits)) | value
            pending += bits
            return
        }
        // Fill the word with the high `room` bits, write it, keep the rest.
        let rest = bits - room
        let filled = room == 64 ? value >> UInt64(rest) : (word << UInt64(room)) | (value >> UInt64(rest))
        withUnsafeBytes(of: filled.bigEndian) { full.append(contentsOf: $0) }
        word = rest == 0 ? 0 : value & ((1 << UInt64(rest)) - 1)
        pending = rest
    }

    mutating func write(bit: Bool) { write(bit ? 1 : 0, bits: 1) }

    /// No bits, keeping the room.
    mutating func removeAll() {
        full.removeAll(keepingCapacity: true)
        word = 0
        pending = 0
    }
}

/// Reads what `BitStreamWriter` wrote. Reading past the end throws, so a damaged block is an
/// error, never a crash.
struct BitStreamReader {
    private let bytes: ArraySlice<UInt8>
    private var position = 0
    private let limit: Int

    init(_ bytes: ArraySlice<UInt8>, bitCount: Int? = nil) {
        self.bytes = bytes
        limit = min(bitCount ?? bytes.count * 8, bytes.count * 8)
    }

    var bitsLeft: Int { limit - position }

    mutating func read(bits: Int) throws -> UInt64 {
        guard bits <= bitsLeft, bits <= 64 else { throw SeriesCodecError("block ends inside a value") }
        guard bits > 0 else { return 0 }
        defer { position += bits }
        return peek() >> UInt64(64 - bits)
    }

    /// One bit.
    @inline(__always)
    mutating func readBit() throws -> Bool {
        guard position < limit else { throw SeriesCodecError("block ends inside a value") }
        let byte = bytes[bytes.startIndex + (position >> 3)]
        let bit = (byte >> UInt8(7 - position & 7)) & 1
        position += 1
        return bit == 1
    }

    /// Moves past `bits` bits a caller has read from `peek()`.
    @inline(__always)
    mutating func skip(_ bits: Int) throws {
        guard bits <= bitsLeft else { throw SeriesCodecError("block ends inside a value") }
        position += bits
    }

    /// The 64 bits from `position` on, most significant first; zeros past the end of the bytes
    /// (and past `bitCount`: a caller checks what it uses with `skip`).
    @inline(__always)
    func peek() -> UInt64 {
        let index = position >> 3
        let shift = UInt64(position & 7)
        return bytes.withUnsafeBytes { raw -> UInt64 in
            let available = raw.count - index
            var word: UInt64 = 0
            if available >= 9 {
                word = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) << shift
                if shift > 0 { word |= UInt64(raw[index + 8]) >> (8 - shift) }
                return word
            }
            // A short row (a chunk holds one point per series: a few bytes): what there is,
            // copied in one step rather than a byte at a time.
            guard available > 0 else { return 0 }
            withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[index..<min(index + 8, raw.count)])) }
            return UInt64(bigEndian: word) << shift
        }
    }
}

/// A damaged or foreign block.
struct SeriesCodecError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
