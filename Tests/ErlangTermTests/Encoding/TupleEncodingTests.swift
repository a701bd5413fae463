import ErlangTerm
import Testing

/// SMALL_TUPLE_EXT (arity below 256) and LARGE_TUPLE_EXT.
@Suite("Tuple encoding")
struct TupleEncodingTests {
    static let zeros255 = [Term](repeating: .integer(0), count: 255)
    static let zeros256 = [Term](repeating: .integer(0), count: 256)

    static let vectors: [CodecVector] = [
        CodecVector("{}", .tuple([]), [104, 0]),
        CodecVector("{ok, 1}", .tagged(.ok, 1), [104, 2] + atomBytes("ok") + [97, 1]),
        CodecVector("{{}}", .tuple([.tuple([])]), [104, 1, 104, 0]),
        CodecVector("{a, {b, []}}", .tuple([.atom("a"), .tuple([.atom("b"), .emptyList])]),
                    [104, 2] + atomBytes("a") + [104, 2] + atomBytes("b") + [106]),
        CodecVector("255 elements, the largest SMALL_TUPLE", .tuple(zeros255),
                    [104, 255] + [UInt8](repeating: 0, count: 255).flatMap { [97, $0] }),
        CodecVector("256 elements, LARGE_TUPLE", .tuple(zeros256),
                    [105, 0, 0, 1, 0] + [UInt8](repeating: 0, count: 256).flatMap { [97, $0] }),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    static let nonCanonical: [CodecVector] = [
        CodecVector("LARGE_TUPLE of 2", .tuple([1, 2]), [105, 0, 0, 0, 2, 97, 1, 97, 2]),
        CodecVector("LARGE_TUPLE of 0", .tuple([]), [105, 0, 0, 0, 0]),
    ]

    @Test(arguments: nonCanonical)
    func decodesNonCanonical(_ vector: CodecVector) { vector.expectDecodes() }

    /// `writeTupleHeader` is public for callers that stream elements; it must agree with `encode`.
    @Test(arguments: [0, 1, 255, 256, 70_000])
    func streamedTupleHeaderMatches(_ arity: Int) {
        let elements = [Term](repeating: .atom("x"), count: arity)
        var encoder = TermEncoder()
        encoder.writeTupleHeader(arity: arity)
        for element in elements { encoder.encode(element) }
        #expect([131] + encoder.bytes == Term.tuple(elements).encoded())
    }
}
