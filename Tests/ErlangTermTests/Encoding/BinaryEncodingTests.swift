import ErlangTerm
import Testing

/// BINARY_EXT and BIT_BINARY_EXT (a bitstring: byte count, bits used in the last byte, bytes).
@Suite("Binary encoding")
struct BinaryEncodingTests {
    static let bytes256 = (0..<256).map { UInt8($0) }

    static let vectors: [CodecVector] = [
        CodecVector("<<>>", .binary([]), [109, 0, 0, 0, 0]),
        CodecVector("<<1,2,3>>", .binary([1, 2, 3]), [109, 0, 0, 0, 3, 1, 2, 3]),
        CodecVector("<<\"abc\">> from a string literal", "abc", [109, 0, 0, 0, 3, 97, 98, 99]),
        CodecVector("<<\"é\"/utf8>>", Term("é"), [109, 0, 0, 0, 2, 0xC3, 0xA9]),
        CodecVector("256 bytes", .binary(bytes256), [109, 0, 0, 1, 0] + bytes256),
        CodecVector("<<1:1>>", .makeBitstring([0x80], bitsInLastByte: 1), [77, 0, 0, 0, 1, 1, 0x80]),
        CodecVector("<<127:7>>", .makeBitstring([0xFE], bitsInLastByte: 7), [77, 0, 0, 0, 1, 7, 0xFE]),
        CodecVector("<<255,7:3>>", .makeBitstring([255, 0xE0], bitsInLastByte: 3), [77, 0, 0, 0, 2, 3, 255, 0xE0]),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    static let nonCanonical: [CodecVector] = [
        CodecVector("BIT_BINARY with all 8 bits is a binary", .binary([5]), [77, 0, 0, 0, 1, 8, 5]),
        CodecVector("unused low bits are cleared", .makeBitstring([0xE0], bitsInLastByte: 3), [77, 0, 0, 0, 1, 3, 0xFF]),
    ]

    @Test(arguments: nonCanonical)
    func decodesNonCanonical(_ vector: CodecVector) { vector.expectDecodes() }

    /// OTP 25 reads an empty BIT_BINARY_EXT with 0 bits as `<<>>` (OTP 28.5's binary_to_term
    /// crashes the VM on it, trying to allocate 2^61 bytes, so it is not in the Erlang check).
    @Test func decodesEmptyBitBinary() {
        #expect(decodeBody([77, 0, 0, 0, 0, 0]) == .success(.binary([])))
    }

    /// As binary_to_term: 0 bits only in an empty bitstring, 1 to 8 in a non-empty one.
    static let badBitCounts: [([UInt8], UInt8)] = [([0, 0, 0, 0, 8], 8), ([0, 0, 0, 1, 0, 5], 0), ([0, 0, 0, 1, 9, 5], 9), ([0, 0, 0, 0, 3], 3)]

    @Test(arguments: badBitCounts)
    func rejectsBadBitCounts(_ body: [UInt8], _ bits: UInt8) {
        #expect(decodeBody([77] + body)
            == .failure(TermDecodingError(.invalidValue("bitstring with \(bits) bits in its last byte"), at: 1)))
    }

    /// Bitstrings are kept canonical, so equal Erlang bitstrings are equal terms.
    @Test func bitstringsAreCanonical() {
        #expect(Term.makeBitstring([0xFF], bitsInLastByte: 3) == .makeBitstring([0xE0], bitsInLastByte: 3))
        #expect(Term.makeBitstring([1, 2], bitsInLastByte: 8) == .binary([1, 2]))
        #expect(Term.makeBitstring([], bitsInLastByte: 3) == .binary([]))
    }
}
