import ErlangTerm
import Testing

/// NEWER_REFERENCE_EXT (32-bit creation, up to 5 words) both ways; NEW_REFERENCE_EXT and
/// REFERENCE_EXT, with one-byte 2-bit creations, decode only.
@Suite("Reference encoding")
struct ReferenceEncodingTests {
    static let node = atomBytes("a@b")

    static let vectors: [CodecVector] = [
        CodecVector("3 words, as make_ref() gives", .reference(Reference(node: "a@b", creation: 7, ids: [1, 2, 3])),
                    [90, 0, 3] + node + be32(7) + be32(1) + be32(2) + be32(3)),
        CodecVector("1 word", .reference(Reference(node: "a@b", creation: 0, ids: [.max])),
                    [90, 0, 1] + node + be32(0) + be32(.max)),
        CodecVector("5 words, the most (an alias of OTP 24+ has 4)",
                    .reference(Reference(node: "a@b", creation: .max, ids: [1, 2, 3, 4, 5])),
                    [90, 0, 5] + node + be32(.max) + be32(1) + be32(2) + be32(3) + be32(4) + be32(5)),
        CodecVector("0 words, which binary_to_term reads and writes back", .reference(Reference(node: "a@b", creation: 7, ids: [])),
                    [90, 0, 0] + node + be32(7)),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    static let legacy: [CodecVector] = [
        CodecVector("NEW_REFERENCE_EXT, 3 words, creation 3", .reference(Reference(node: "a@b", creation: 3, ids: [1, 2, 3])),
                    [114, 0, 3] + legacyAtomBytes("a@b") + [3] + be32(1) + be32(2) + be32(3)),
        CodecVector("NEW_REFERENCE_EXT, 5 words", .reference(Reference(node: "a@b", creation: 3, ids: [5, 4, 3, 2, 1])),
                    [114, 0, 5] + legacyAtomBytes("a@b") + [3] + be32(5) + be32(4) + be32(3) + be32(2) + be32(1)),
        CodecVector("REFERENCE_EXT, one word", .reference(Reference(node: "a@b", creation: 2, ids: [1])),
                    [101] + legacyAtomBytes("a@b") + be32(1) + [2]),
    ]

    @Test(arguments: legacy)
    func decodesLegacy(_ vector: CodecVector) { vector.expectDecodes() }

    @Test func rejectsSixWords() {
        #expect(decodeBody([90, 0, 6] + Self.node + be32(7) + [UInt8](repeating: 0, count: 24))
            == .failure(TermDecodingError(.invalidValue("reference with 6 words"), at: 1)))
    }

    @Test func rejectsWideLegacyCreation() {
        #expect(decodeBody([114, 0, 1] + legacyAtomBytes("a@b") + [4] + be32(1))
            == .failure(TermDecodingError(.invalidValue("creation 4 in a legacy 2-bit creation field"), at: 10)))
        #expect(decodeBody([101] + legacyAtomBytes("a@b") + be32(1) + [200])
            == .failure(TermDecodingError(.invalidValue("creation 200 in a legacy 2-bit creation field"), at: 12)))
    }
}
