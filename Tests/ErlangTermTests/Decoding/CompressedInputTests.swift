import ErlangTerm
import Testing

/// Compressed terms (tag 80) whose header lies, whose zlib data is broken, or that would inflate
/// beyond `maxUncompressedSize`: errors, without inflating more than the declared size allows.
@Suite("Malformed compressed input")
struct CompressedInputTests {
    /// `binary:copy(<<0>>, 1000)` compressed by the BEAM: 1,005 bytes declared, 21 of zlib data.
    static let thousandZeros: [UInt8] = [131] + CompressedEncodingTests.vectors[2].bytes
    static let zlib = Array(thousandZeros.dropFirst(6))

    static func compressed(size: UInt32, _ data: [UInt8]) -> [UInt8] { [131, 80] + be32(size) + data }

    static func decode(_ bytes: [UInt8], _ decoder: TermDecoder = TermDecoder()) -> Result<Term, TermDecodingError> {
        Result { () throws(TermDecodingError) -> Term in try decoder.decode(bytes) }
    }

    @Test(arguments: [UInt32(1_004), 1_006, 1, 2_000, 20_000])
    func declaredSizeLies(_ size: UInt32) {
        let result = Self.decode(Self.compressed(size: size, Self.zlib))
        guard case .failure(let error) = result, case .invalidValue = error.kind else {
            Issue.record("size \(size): \(result)")
            return
        }
        #expect(error.offset == 1)
    }

    /// A size no deflate stream of this length can reach (1,032 bytes out per byte in) is a lie
    /// told before anything is allocated.
    @Test func impossibleRatioIsRefusedUpFront() {
        #expect(Self.decode(Self.compressed(size: 21 * 1_032 + 1, Self.zlib)) == .failure(TermDecodingError(
            .invalidValue("compressed term claims 21673 bytes, impossible from 21 bytes of zlib data"), at: 1)))
        #expect(Self.decode(Self.compressed(size: 5, []))
            == .failure(TermDecodingError(.invalidValue("compressed term claims 5 bytes, impossible from 0 bytes of zlib data"), at: 1)))
        #expect(Self.decode(Self.compressed(size: 0, Self.zlib))
            == .failure(TermDecodingError(.invalidValue("compressed term of 0 bytes"), at: 1)))
    }

    @Test func declaredSizeBeyondTheLimit() {
        let decoder = TermDecoder(maxUncompressedSize: 1_000)
        #expect(Self.decode(Self.thousandZeros, decoder)
            == .failure(TermDecodingError(.tooLarge("compressed term claims 1005 bytes"), at: 1)))
        #expect(Self.decode(Self.compressed(size: .max, Self.zlib))
            == .failure(TermDecodingError(.tooLarge("compressed term claims 4294967295 bytes"), at: 1)))
    }

    /// A zlib bomb that declares a small size: inflation stops at the declared size (rounded up
    /// to the output buffer's power of two), not at the bomb's 64 MB.
    @Test func bombDeclaringASmallSize() throws {
        let bomb = Term.binary([UInt8](repeating: 0, count: 64 << 20)).encodedCompressed()
        try #require(bomb[1] == 80 && bomb.count < 100_000)
        let lying = Self.compressed(size: 1_000, Array(bomb.dropFirst(6)))
        #expect(Self.decode(lying) == .failure(TermDecodingError(
            .invalidValue("compressed data is corrupt or larger than its declared 1000 bytes"), at: 1)))
        // Honest, it is refused by the limit before inflating.
        #expect(Self.decode(bomb, TermDecoder(maxUncompressedSize: 16 << 20)) == .failure(TermDecodingError(
            .tooLarge("compressed term claims 67108869 bytes"), at: 1)))
    }

    @Test func corruptData() {
        var corrupt = Self.zlib
        corrupt[0] = 0x79  // not a zlib header
        #expect(Self.decode(Self.compressed(size: 1_005, corrupt)) == .failure(TermDecodingError(
            .invalidValue("compressed data is corrupt or larger than its declared 1005 bytes"), at: 1)))
        var checksum = Self.zlib
        checksum[checksum.count - 1] ^= 1  // the Adler-32 no longer matches
        #expect(Self.decode(Self.compressed(size: 1_005, checksum)) == .failure(TermDecodingError(
            .invalidValue("compressed data is corrupt or larger than its declared 1005 bytes"), at: 1)))
    }

    /// zlib reports a stream cut before its checksum as neither an error nor its end, with all
    /// the content inflated; the decoder notices anyway (it used to accept such a term).
    @Test func streamWithoutItsChecksum() {
        #expect(Self.decode(Self.compressed(size: 1_005, Array(Self.zlib.dropLast(4))))
            == .failure(TermDecodingError(.truncated, at: Self.thousandZeros.count - 4)))
        // Cut inside the checksum, the check fails.
        #expect(Self.decode(Self.compressed(size: 1_005, Array(Self.zlib.dropLast(1)))) == .failure(TermDecodingError(
            .invalidValue("compressed data is corrupt or larger than its declared 1005 bytes"), at: 1)))
    }

    @Test func bytesAfterTheStream() {
        #expect(Self.decode(Self.thousandZeros + [1, 2]) == .failure(TermDecodingError(.trailingBytes(2), at: Self.thousandZeros.count)))
    }

    /// The stored-block zlib helper makes valid compressed terms (so the failures below are
    /// the content's, not the helper's).
    @Test func storedBlocksDecode() {
        #expect(Self.decode(StoredZlib.compressedTerm([104, 2, 97, 1, 97, 2])) == .success(.tuple([1, 2])))
        let big = [109] + be32(100_000) + [UInt8](repeating: 9, count: 100_000)
        #expect(Self.decode(StoredZlib.compressedTerm(big)) == .success(.binary([UInt8](repeating: 9, count: 100_000))))
    }

    /// Problems inside the inflated term are reported at the compressed term: offsets inside the
    /// inflated bytes would point nowhere in the caller's input.
    static let brokenContents: [(String, [UInt8], TermDecodingError.Kind)] = [
        ("bytes after the inner term", [97, 1, 97, 2], .trailingBytes(2)),
        ("a cut inner term", [104, 2, 97, 1], .truncated),
        ("an invalid atom", [104, 1, 119, 1, 0xFF], .invalidAtom),
        ("an unknown tag", [104, 1, 3], .unknownTag(3)),
        ("a compressed term inside", [80] + be32(2) + StoredZlib.wrap([97, 1]), .invalidValue("compressed term inside a term")),
        ("a version byte inside", [131, 97, 1], .unknownTag(131)),
    ]

    @Test(arguments: brokenContents)
    func brokenContent(_ name: String, _ content: [UInt8], _ kind: TermDecodingError.Kind) {
        #expect(Self.decode(StoredZlib.compressedTerm(content)) == .failure(TermDecodingError(kind, at: 1)), "\(name)")
    }

    /// The depth of the content counts from where the compressed term is, so nesting cannot be
    /// reset by compressing it.
    @Test func contentDepthCounts() {
        let content: [UInt8] = [104, 1, 104, 1, 104, 1, 106]
        #expect(Self.decode(StoredZlib.compressedTerm(content), TermDecoder(maxDepth: 3)) == .success(.tuple([.tuple([.tuple([[]])])])))
        #expect(Self.decode(StoredZlib.compressedTerm(content), TermDecoder(maxDepth: 2))
            == .failure(TermDecodingError(.tooDeep(limit: 2), at: 1)))
    }
}
