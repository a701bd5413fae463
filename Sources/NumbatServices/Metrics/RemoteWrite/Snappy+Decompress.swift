/// Snappy decompression: what the tests and the benchmark read requests back with. Every
/// malformed input is refused with a reason (a copy reaching before the start, lengths that
/// disagree with the preamble, a truncated element), never read out of bounds.
extension Snappy {
    /// The uncompressed length the preamble announces.
    public static func uncompressedLength(_ input: [UInt8]) throws -> Int {
        try readPreamble(input).length
    }

    public static func decompress(_ input: [UInt8]) throws -> [UInt8] {
        let (length, start) = try readPreamble(input)
        var output: [UInt8] = []
        output.reserveCapacity(length)
        var position = start
        while position < input.count {
            let tag = input[position]
            position += 1
            switch tag & 0b11 {
            case 0b00:
                var literal = Int(tag >> 2) + 1
                if literal > 60 {
                    let extra = literal - 60
                    guard position + extra <= input.count else { throw Failure("a literal's length is cut short") }
                    literal = 0
                    for index in 0..<extra { literal |= Int(input[position + index]) << (8 * index) }
                    literal += 1
                    position += extra
                }
                guard position + literal <= input.count else { throw Failure("a literal runs past the end of the input") }
                guard output.count + literal <= length else { throw Failure("the data is longer than the \(length) bytes announced") }
                output.append(contentsOf: input[position..<position + literal])
                position += literal
            case 0b01:
                guard position + 1 <= input.count else { throw Failure("a copy's offset is cut short") }
                let copyLength = Int((tag >> 2) & 0b111) + 4
                let offset = Int(tag >> 5) << 8 | Int(input[position])
                position += 1
                try copy(offset: offset, length: copyLength, limit: length, into: &output)
            case 0b10:
                guard position + 2 <= input.count else { throw Failure("a copy's offset is cut short") }
                let offset = Int(input[position]) | Int(input[position + 1]) << 8
                position += 2
                try copy(offset: offset, length: Int(tag >> 2) + 1, limit: length, into: &output)
            default:
                guard position + 4 <= input.count else { throw Failure("a copy's offset is cut short") }
                var offset = 0
                for index in 0..<4 { offset |= Int(input[position + index]) << (8 * index) }
                position += 4
                try copy(offset: offset, length: Int(tag >> 2) + 1, limit: length, into: &output)
            }
        }
        guard output.count == length else {
            throw Failure("the data is \(output.count) bytes, the preamble announced \(length)")
        }
        return output
    }

    /// Copies byte by byte: an offset shorter than the length repeats the bytes copied (a run).
    private static func copy(offset: Int, length: Int, limit: Int, into output: inout [UInt8]) throws {
        guard offset > 0 else { throw Failure("a copy has offset 0") }
        guard offset <= output.count else { throw Failure("a copy reaches \(offset) bytes back, before the start of the data") }
        guard output.count + length <= limit else { throw Failure("the data is longer than the \(limit) bytes announced") }
        let from = output.count - offset
        for index in 0..<length { output.append(output[from + index]) }
    }

    /// The preamble: a varint of at most 5 bytes holding a 32-bit length.
    private static func readPreamble(_ input: [UInt8]) throws -> (length: Int, next: Int) {
        var value: UInt64 = 0
        for index in 0..<min(5, input.count) {
            let byte = input[index]
            value |= UInt64(byte & 0x7F) << (7 * UInt64(index))
            if byte & 0x80 == 0 {
                guard value <= UInt64(UInt32.max) else { throw Failure("the announced length does not fit 32 bits") }
                return (Int(value), index + 1)
            }
        }
        throw Failure(input.count < 5 ? "the length preamble is cut short" : "the length preamble is longer than 5 bytes")
    }
}
