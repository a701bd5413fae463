import ErlangTerm
import Testing

/// NIL_EXT, STRING_EXT (a proper list of at most 65,535 integers 0...255, as term_to_binary writes
/// it) and LIST_EXT, proper and improper.
@Suite("List encoding")
struct ListEncodingTests {
    static let bytes65535 = (0..<65_535).map { UInt8(truncatingIfNeeded: $0 * 7) }
    static let bytes10000 = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 13) }
    static let bytes65536 = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 * 7) }

    static let vectors: [CodecVector] = [
        CodecVector("[]", .emptyList, [106]),
        CodecVector("[1,2,3] is a STRING_EXT", [1, 2, 3], [107, 0, 3, 1, 2, 3]),
        CodecVector("\"abc\"", .string("abc"), [107, 0, 3, 97, 98, 99]),
        CodecVector("[0,255]", [0, 255], [107, 0, 2, 0, 255]),
        CodecVector("[256]", [256], [108, 0, 0, 0, 1, 98, 0, 0, 1, 0, 106]),
        CodecVector("[-1]", [-1], [108, 0, 0, 0, 1, 98, 255, 255, 255, 255, 106]),
        CodecVector("[a]", [.atom("a")], [108, 0, 0, 0, 1] + atomBytes("a") + [106]),
        CodecVector("[[]]", [.emptyList], [108, 0, 0, 0, 1, 106, 106]),
        CodecVector("[1, a] mixes kinds", [1, .atom("a")], [108, 0, 0, 0, 2, 97, 1] + atomBytes("a") + [106]),
        CodecVector("\"é日\" (code points 233, 26085)", .string("é日"), [108, 0, 0, 0, 2, 97, 233, 98, 0, 0, 0x65, 0xE5, 106]),
        CodecVector("[1|2]", .list([1], tail: 2), [108, 0, 0, 0, 1, 97, 1, 97, 2]),
        CodecVector("[a,b|c]", .list([.atom("a"), .atom("b")], tail: .atom("c")),
                    [108, 0, 0, 0, 2] + atomBytes("a") + atomBytes("b") + atomBytes("c")),
        CodecVector("[1|<<>>]", .list([1], tail: .binary([])), [108, 0, 0, 0, 1, 97, 1, 109, 0, 0, 0, 0]),
        CodecVector("[1,2|{}] is never a STRING_EXT", .list([1, 2], tail: .tuple([])), [108, 0, 0, 0, 2, 97, 1, 97, 2, 104, 0]),
        CodecVector("[1,2,256]: a STRING_EXT begun and taken back", [1, 2, 256],
                    [108, 0, 0, 0, 3, 97, 1, 97, 2, 98, 0, 0, 1, 0, 106]),
        CodecVector("10,000 bytes then an atom: taken back after the buffer grew",
                    .list(bytes10000.map { .integer(Int($0)) } + [.atom("a")]),
                    [108, 0, 0, 0x27, 0x11] + bytes10000.flatMap { [97, $0] } + atomBytes("a") + [106]),
        CodecVector("65,535 bytes, the longest STRING_EXT", .list(bytes65535.map { .integer(Int($0)) }),
                    [107, 255, 255] + bytes65535),
        CodecVector("65,536 bytes, a LIST_EXT", .list(bytes65536.map { .integer(Int($0)) }),
                    [108, 0, 1, 0, 0] + bytes65536.flatMap { [97, $0] } + [106]),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    /// Lists other encoders write: small integers in a LIST_EXT, lists split across tails (as
    /// `[H|T]` is built), and an empty LIST_EXT whose "tail" is the whole term, which
    /// binary_to_term also reads as just the tail.
    static let nonCanonical: [CodecVector] = [
        CodecVector("LIST_EXT of small integers", [1, 2], [108, 0, 0, 0, 2, 97, 1, 97, 2, 106]),
        CodecVector("LIST_EXT tail is a LIST_EXT", [1, 2], [108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106]),
        CodecVector("LIST_EXT tail is a STRING_EXT", [.atom("a"), 1, 2], [108, 0, 0, 0, 1] + atomBytes("a") + [107, 0, 2, 1, 2]),
        CodecVector("improper list split across tails", .list([1, 2], tail: 3),
                    [108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3]),
        CodecVector("empty LIST_EXT ending in []", .emptyList, [108, 0, 0, 0, 0, 106]),
        CodecVector("empty LIST_EXT ending in 3 is 3", 3, [108, 0, 0, 0, 0, 97, 3]),
        CodecVector("STRING_EXT of length 0", .emptyList, [107, 0, 0]),
    ]

    @Test(arguments: nonCanonical)
    func decodesNonCanonical(_ vector: CodecVector) { vector.expectDecodes() }

    /// `Term.list(_:tail:)` keeps lists canonical, so each Erlang list has one Swift value.
    @Test func listFactoryIsCanonical() {
        #expect(Term.list([1], tail: .list([2, 3])) == [1, 2, 3])
        #expect(Term.list([1], tail: .list([2], tail: 3)) == .improperList([1, 2], tail: 3))
        #expect(Term.list([], tail: .atom("x")) == .atom("x"))
        #expect(Term.list([1], tail: .emptyList) == [1])
    }

    @Test func stringValueReadsCharlistsAndBinaries() {
        #expect(Term.string("héllo 😀").stringValue == "héllo 😀")
        #expect(Term("héllo").stringValue == "héllo")
        #expect(Term.list([.integer(0xD800)]).stringValue == nil)
        #expect(Term.list([.integer(-1)]).stringValue == nil)
        #expect(Term.binary([0xFF]).stringValue == nil)
    }
}
