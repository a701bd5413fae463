import BigInt
import ErlangTerm
import Testing

/// SMALL_INTEGER_EXT, INTEGER_EXT, SMALL_BIG_EXT and LARGE_BIG_EXT, with the boundaries where the
/// encoding switches and where Swift's `Int` ends.
@Suite("Integer encoding")
struct IntegerEncodingTests {
    static let twoTo63 = BigInt(1) << 63
    static let twoTo64 = BigInt(1) << 64

    static let vectors: [CodecVector] = [
        CodecVector("0", .integer(0), [97, 0]),
        CodecVector("255, the largest SMALL_INTEGER", .integer(255), [97, 255]),
        CodecVector("256", .integer(256), [98, 0, 0, 1, 0]),
        CodecVector("-1", .integer(-1), [98, 255, 255, 255, 255]),
        CodecVector("Int32.max", .integer(Int(Int32.max)), [98, 127, 255, 255, 255]),
        CodecVector("Int32.min", .integer(Int(Int32.min)), [98, 128, 0, 0, 0]),
        CodecVector("Int32.max + 1", .integer(Int(Int32.max) + 1), [110, 4, 0, 0, 0, 0, 128]),
        CodecVector("Int32.min - 1", .integer(Int(Int32.min) - 1), [110, 4, 1, 1, 0, 0, 128]),
        CodecVector("Int.max", .integer(Int.max), [110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127]),
        CodecVector("Int.min", .integer(Int.min), [110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128]),
        CodecVector("Int.max + 1", .bigInteger(twoTo63), [110, 8, 0, 0, 0, 0, 0, 0, 0, 0, 128]),
        CodecVector("Int.min - 1", .bigInteger(-twoTo63 - 1), [110, 8, 1, 1, 0, 0, 0, 0, 0, 0, 128]),
        CodecVector("2^64", .bigInteger(twoTo64), [110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        CodecVector("-2^64", .bigInteger(-twoTo64), [110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        CodecVector("2^2040 - 1, the largest SMALL_BIG", .bigInteger((BigInt(1) << 2040) - 1),
                    [110, 255, 0] + [UInt8](repeating: 255, count: 255)),
        CodecVector("2^2040, the smallest LARGE_BIG", .bigInteger(BigInt(1) << 2040),
                    [111, 0, 0, 1, 0, 0] + [UInt8](repeating: 0, count: 255) + [1]),
        CodecVector("-2^2040", .bigInteger(-(BigInt(1) << 2040)),
                    [111, 0, 0, 1, 0, 1] + [UInt8](repeating: 0, count: 255) + [1]),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    /// Other encoders (and old BEAMs) write small values as bigs, or with leading zero digits;
    /// they must still decode to the canonical `.integer`.
    static let nonCanonical: [CodecVector] = [
        CodecVector("SMALL_BIG 5", .integer(5), [110, 1, 0, 5]),
        CodecVector("SMALL_BIG -5", .integer(-5), [110, 1, 1, 5]),
        CodecVector("SMALL_BIG with no digits", .integer(0), [110, 0, 0]),
        CodecVector("SMALL_BIG negative zero", .integer(0), [110, 1, 1, 0]),
        CodecVector("SMALL_BIG 1 with nine leading zero digits", .integer(1), [110, 10, 0, 1] + [UInt8](repeating: 0, count: 9)),
        CodecVector("LARGE_BIG -7", .integer(-7), [111, 0, 0, 0, 1, 1, 7]),
        CodecVector("INTEGER_EXT 5", .integer(5), [98, 0, 0, 0, 5]),
        CodecVector("2^63 with a leading zero digit", .bigInteger(twoTo63), [110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 128, 0]),
    ]

    @Test(arguments: nonCanonical)
    func decodesNonCanonical(_ vector: CodecVector) { vector.expectDecodes() }

    @Test func rejectsBadSign() {
        #expect(decodeBody([110, 1, 2, 5]) == .failure(TermDecodingError(.invalidValue("big integer sign 2"), at: 3)))
    }
}
