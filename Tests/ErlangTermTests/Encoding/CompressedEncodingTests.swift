import ErlangTerm
import Testing

/// Compressed terms (tag 80: the uncompressed size, then a zlib stream), as
/// `term_to_binary(T, [compressed])` writes them, and `Term.encodedCompressed()`.
@Suite("Compressed encoding")
struct CompressedEncodingTests {
    /// Bytes from term_to_binary(..., [compressed]); OTP 25 and 28.5 write the same ones.
    static let vectors: [CodecVector] = [
        CodecVector("lists:duplicate(100, a), minor_version 2",
                    .list([Term](repeating: .atom("a"), count: 100)),
                    [80, 0, 0, 1, 50, 120, 156, 203, 97, 96, 96, 72, 41, 103, 76, 28, 69, 68, 162, 44, 0, 46, 63, 85, 255]),
        CodecVector("lists:duplicate(100, a) with ATOM_EXT inside, OTP 25's default",
                    .list([Term](repeating: .atom("a"), count: 100)),
                    [80, 0, 0, 1, 150, 120, 156, 203, 97, 96, 96, 72, 73, 97, 96, 76, 28, 197, 131, 7, 103, 1, 0, 48, 70, 78, 147]),
        CodecVector("binary:copy(<<0>>, 1000)", .binary([UInt8](repeating: 0, count: 1000)),
                    [80, 0, 0, 3, 237, 120, 156, 203, 101, 96, 96, 126, 193, 48, 10, 70, 193, 40, 24, 246, 0, 0, 71, 7, 1, 89]),
        CodecVector("{ok, binary:copy(<<\"ab\">>, 64)} at level 9", .tagged(.ok, .binary(Array(String(repeating: "ab", count: 64).utf8))),
                    [80, 0, 0, 0, 139, 120, 218, 203, 96, 42, 103, 202, 207, 206, 101, 96, 96, 104, 72, 76, 26, 88, 8, 0,
                     175, 133, 51, 107]),
    ]

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    /// zlib at its default level, like the BEAM: the output is the BEAM's byte for byte.
    @Test func encodesLikeTheBEAM() {
        #expect(Self.vectors[0].term.encodedCompressed() == [131] + Self.vectors[0].bytes)
        #expect(Self.vectors[2].term.encodedCompressed() == [131] + Self.vectors[2].bytes)
    }

    /// Like term_to_binary, a term that would not get smaller is left uncompressed.
    @Test(arguments: [Term.atom("a"), .integer(1), .emptyList, .tagged(.ok, "short"), .binary(Array(0...255))])
    func leavesIncompressibleTermsPlain(_ term: Term) {
        #expect(term.encodedCompressed() == term.encoded())
    }

    @Test func compressedRoundTripsRandomTerms() throws {
        var random = RandomTerms(seed: 80)
        var compressed = 0
        for term in random.terms(300) {
            let bytes = term.encodedCompressed()
            if bytes.count > 1, bytes[1] == 80 {
                compressed += 1
                let size = Int(bytes[2]) << 24 | Int(bytes[3]) << 16 | Int(bytes[4]) << 8 | Int(bytes[5])
                #expect(size == term.encoded().count - 1, "the size field is the plain size without the version byte")
            }
            #expect(try Term(decoding: bytes) == term)
        }
        #expect(compressed > 50)
    }

    /// A compressed term that fills a power-of-two output buffer exactly (the decoder sizes its
    /// buffer from the declared size) and one of 1 MB, far beyond any internal chunk.
    @Test(arguments: [1_019, 1 << 20])
    func decodesExactSizes(_ count: Int) throws {
        let term = Term.binary([UInt8](repeating: 7, count: count))
        let bytes = term.encodedCompressed()
        #expect(bytes[1] == 80)
        #expect(try Term(decoding: bytes) == term)
    }
}
