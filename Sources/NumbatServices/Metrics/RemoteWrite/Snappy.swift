/// Snappy's block format (https://github.com/google/snappy/blob/main/format_description.txt),
/// which Prometheus remote write requires of every request body: the uncompressed length as a
/// varint, then literals and back-references (copies). Written here rather than taken from a
/// library: the format is small, and the project adds no dependency for it. Pure.
///
/// The compressor works as the reference one does: the input in 64 KiB fragments (so every
/// offset fits two bytes), a hash table of the 4-byte sequences seen in the fragment, a match
/// extended as far as it goes, and ever larger steps over data that does not match (so random
/// data costs little time and grows by at most a few bytes per 64 KiB).
public enum Snappy {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The largest fragment compressed on its own: offsets stay below 65,536.
    static let fragmentSize = 1 << 16
    static let hashBits = 14

    /// The compressed form of `input`.
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(maxCompressedLength(input.count))
        appendVarint(UInt32(truncatingIfNeeded: input.count), to: &output)
        var table = [UInt16](repeating: 0, count: 1 << hashBits)
        input.withUnsafeBufferPointer { bytes in
            var start = 0
            while start < bytes.count {
                let end = min(start + fragmentSize, bytes.count)
                compressFragment(bytes, from: start, to: end, table: &table, into: &output)
                start = end
            }
        }
        return output
    }

    /// The most `compress` can produce from `length` bytes (as the reference states it).
    public static func maxCompressedLength(_ length: Int) -> Int {
        32 + length + length / 6
    }

    @inline(__always)
    static func load32(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt32 {
        UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
    }

    @inline(__always)
    static func hash(_ word: UInt32) -> Int {
        Int((word &* 0x1E35_A7BD) >> (32 - UInt32(hashBits)))
    }

    /// One fragment: positions in `table` are relative to `start`, so a stale entry from an
    /// earlier fragment only costs a failed comparison.
    private static func compressFragment(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                                         table: inout [UInt16], into output: inout [UInt8])
    {
        // Fragments under 16 bytes, and the last bytes of every fragment, are literals: a match
        // there saves nothing, and the 4-byte loads stay inside the input.
        let inputMargin = 15
        var literalStart = start
        if end - start >= inputMargin + 1 {
            for index in table.indices { table[index] = 0 }
            let limit = end - inputMargin
            var position = start + 1
            // After 32 misses in a row the step grows by one byte, and so on.
            var skip: UInt32 = 32
            while position < limit {
                let word = load32(bytes, position)
                let slot = hash(word)
                let candidate = start + Int(table[slot])
                table[slot] = UInt16(position - start)
                guard candidate < position, load32(bytes, candidate) == word else {
                    position += Int(skip >> 5)
                    skip += 1
                    continue
                }
                skip = 32
                // Extend the match as far as it goes (up to the end of the fragment).
                var length = 4
                while position + length < end, bytes[candidate + length] == bytes[position + length] { length += 1 }
                if literalStart < position { appendLiteral(bytes, from: literalStart, to: position, into: &output) }
                appendCopy(offset: position - candidate, length: length, into: &output)
                position += length
                literalStart = position
                // The position just before the next one goes in the table too: a run of copies
                // finds the next match at once.
                if position < limit {
                    table[hash(load32(bytes, position - 1))] = UInt16(position - 1 - start)
                }
            }
        }
        if literalStart < end { appendLiteral(bytes, from: literalStart, to: end, into: &output) }
    }

    /// A literal: its length minus one in the tag's upper six bits when under 60, else in the
    /// 1 to 4 bytes that follow (tag values 60 to 63), then the bytes.
    static func appendLiteral(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, into output: inout [UInt8]) {
        let n = end - start - 1
        if n < 60 {
            output.append(UInt8(n << 2))
        } else {
            var extra: [UInt8] = []
            var rest = n
            while rest > 0 {
                extra.append(UInt8(truncatingIfNeeded: rest))
                rest >>= 8
            }
            output.append(UInt8((59 + extra.count) << 2))
            output.append(contentsOf: extra)
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
    }

    /// A copy of `length` bytes from `offset` back (offset below 65,536): pieces of 64 bytes,
    /// keeping the last piece at least 4 long, the shortest form for each piece.
    static func appendCopy(offset: Int, length: Int, into output: inout [UInt8]) {
        var length = length
        while length >= 68 {
            appendCopyPiece(offset: offset, length: 64, into: &output)
            length -= 64
        }
        if length > 64 {
            appendCopyPiece(offset: offset, length: 60, into: &output)
            length -= 60
        }
        appendCopyPiece(offset: offset, length: length, into: &output)
    }

    private static func appendCopyPiece(offset: Int, length: Int, into output: inout [UInt8]) {
        if length >= 4, length <= 11, offset < 2048 {
            // Copy with a 1-byte offset: 3 bits of length - 4, 3 high bits of the offset.
            output.append(UInt8(0b01 | (length - 4) << 2 | (offset >> 8) << 5))
            output.append(UInt8(offset & 0xFF))
        } else {
            // Copy with a 2-byte offset, little-endian.
            output.append(UInt8(0b10 | (length - 1) << 2))
            output.append(UInt8(offset & 0xFF))
            output.append(UInt8(offset >> 8))
        }
    }

    static func appendVarint(_ value: UInt32, to output: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            output.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        output.append(UInt8(value))
    }
}
