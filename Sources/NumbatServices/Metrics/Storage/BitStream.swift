/// Where the series codec writes its bits, most significant first: a growing
/// `BitStreamWriter` for a series' encoder, or `PointerBitWriter` straight into a chunk's
/// bytes.
protocol BitSink {
    /// Appends the low `bits` (0...64) bits of `value`.
    mutating func write(_ value: UInt64, bits: Int)
}

/// The bits of a writer that do not fill a 64-bit word yet: both writers gather bits here and
/// store each word as it fills.
struct PartialWord: Sendable, Equatable {
    /// Right-aligned (the oldest highest): `pending` of them.
    private(set) var word: UInt64 = 0
    private(set) var pending = 0

    /// Adds the low `bits` (0...64) bits of `value`; answers the word they fill, if they do
    /// (big-endian: stored as it is, its bytes come in order), keeping the rest.
    @inline(__always)
    mutating func add(_ value: UInt64, bits: Int) -> UInt64? {
        guard bits > 0 else { return nil }
        let value = bits == 64 ? value : value & ((1 << UInt64(bits)) - 1)
        let room = 64 - pending
        if bits < room {
            word = (word << UInt64(bits)) | value
            pending += bits
            return nil
        }
        // Fill the word with the high `room` bits, keep the rest.
        let rest = bits - room
        let filled = room == 64 ? value >> UInt64(rest) : (word << UInt64(room)) | (value >> UInt64(rest))
        word = rest == 0 ? 0 : value & ((1 << UInt64(rest)) - 1)
        pending = rest
        return filled.bigEndian
    }

    /// The bytes the pending bits take (the last padded with zeros).
    var byteCount: Int { (pending + 7) / 8 }

    /// Writes those bytes at `pointer`; answers `byteCount`.
    func copyBytes(to pointer: UnsafeMutablePointer<UInt8>) -> Int {
        let tail = byteCount
        if tail > 0 {
            let aligned = (word << UInt64(64 - pending)).bigEndian
            withUnsafeBytes(of: aligned) { raw in
                for offset in 0..<tail { pointer[offset] = raw[offset] }
            }
        }
        return tail
    }
}

/// Bits packed most significant first, for the series codec. Pure.
///
/// Bits gather in a 64-bit word and go to `full` a word at a time: a point is a handful of
/// writes of 1 to 64 bits, and appending byte by byte (a uniqueness check and a bounds check
/// per byte) was the codec's largest cost (scripts/callgrind-store.sh, docs/benchmarks.md);
/// appending a word's eight bytes to a byte array went through the generic
/// `append(contentsOf:)`, a third of each compacted point's writing.
struct BitStreamWriter: BitSink, Sendable, Equatable {
    /// Whole 64-bit words written, each stored big-endian: in memory, the bytes in order.
    private var full: [UInt64] = []
    private var partial = PartialWord()

    /// Bits written; the last byte is full when this is a multiple of 8.
    var bitCount: Int { full.count * 64 + partial.pending }

    /// Every bit written, the last byte padded with zeros.
    var bytes: [UInt8] {
        guard byteCount > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, count in count = copyBytes(to: buffer.baseAddress!) }
    }

    /// The bytes `bytes` holds.
    var byteCount: Int { full.count * 8 + partial.byteCount }

    /// Writes `bytes` at `pointer` (room for `byteCount`) without making it; answers
    /// `byteCount`.
    func copyBytes(to pointer: UnsafeMutablePointer<UInt8>) -> Int {
        let fullBytes = full.count * 8
        if fullBytes > 0 { full.withUnsafeBytes { UnsafeMutableRawPointer(pointer).copyMemory(from: $0.baseAddress!, byteCount: fullBytes) } }
        return fullBytes + partial.copyBytes(to: pointer + fullBytes)
    }

    /// Appends the low `bits` (0...64) bits of `value`.
    mutating func write(_ value: UInt64, bits: Int) {
        if let filled = partial.add(value, bits: bits) { full.append(filled) }
    }

    /// Room for `bits` bits in all.
    mutating func reserveCapacity(bits: Int) { full.reserveCapacity(bits / 64) }
}

/// Bits written most significant first straight into memory with room for them (the bytes
/// `BitStreamWriter` gives for the same writes): a chunk of one collection is a few bits per
/// series, and a `BitStreamWriter` emptied for each series cost more than its bits.
struct PointerBitWriter: BitSink {
    private let base: UnsafeMutablePointer<UInt8>
    /// Bytes stored at `base` (whole 64-bit words).
    private var stored = 0
    private var partial = PartialWord()

    init(_ base: UnsafeMutablePointer<UInt8>) { self.base = base }

    var bitCount: Int { stored * 8 + partial.pending }

    @inline(__always)
    mutating func write(_ value: UInt64, bits: Int) {
        guard let filled = partial.add(value, bits: bits) else { return }
        UnsafeMutableRawPointer(base + stored).storeBytes(of: filled, as: UInt64.self)
        stored += 8
    }

    /// Stores the pending bits' bytes (the last padded with zeros); answers the bytes
    /// written in all.
    mutating func finish() -> Int { stored + partial.copyBytes(to: base + stored) }
}

/// Reads what `BitStreamWriter` wrote, in place: valid only inside the `withUnsafeBytes` of
/// the bytes it reads (`NodeBlock.forEachSeries` scopes it). Through an `ArraySlice`, each
/// series' reader retained and released the row, and every read of the window went through
/// the slice's bounds; compaction reads every series of every chunk. Reading past the end
/// throws, so a damaged block is an error, never a crash.
struct BitStreamReader {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private let limit: Int
    /// Bytes from the start of `bytes` that may be loaded: past `bytes` when they are one
    /// series of a row (the rest of the row follows), so that a series of a few bytes still
    /// reads its window in one load. Bits past `limit` are never used (see `peek`).
    private let readable: Int

    /// `readable`: bytes that may be loaded from the start of `bytes` (at least its count).
    init(_ bytes: UnsafeRawBufferPointer, bitCount: Int? = nil, readable: Int? = nil) {
        self.bytes = bytes
        limit = min(bitCount ?? bytes.count * 8, bytes.count * 8)
        self.readable = max(bytes.count, readable ?? 0)
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
        let byte = bytes[position >> 3]
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

    /// The 64 bits from `position` on, most significant first: past `bitCount` whatever follows
    /// (zeros past the series' bytes when fewer than 9 readable bytes are left). A caller
    /// checks what it uses with `skip` or `read`, so
    /// the bits past the end never change what a valid series reads (its codes end within
    /// it), and a code that runs past the end throws whatever follows it.
    @inline(__always)
    func peek() -> UInt64 {
        let index = position >> 3
        let shift = UInt64(position & 7)
        let base = bytes.baseAddress
        if readable - index >= 9, let base {
            var word = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) << shift
            if shift > 0 { word |= UInt64(base.load(fromByteOffset: index + 8, as: UInt8.self)) >> (8 - shift) }
            return word
        }
        // Near the row's end (fewer than 9 bytes left to load): what there is of this series'
        // bytes, copied in one step rather than a byte at a time, zeros after them.
        let available = bytes.count - index
        guard available > 0 else { return 0 }
        var word: UInt64 = 0
        withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[index..<min(index + 8, bytes.count)])) }
        return UInt64(bigEndian: word) << shift
    }
}

/// A damaged or foreign block.
struct SeriesCodecError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
