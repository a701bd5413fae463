import ErlangTerm
import Testing

/// Bytes that are not a term: each gives a `TermDecodingError` of the right kind, at the offset
/// of the culprit, with a message a person can act on.
@Suite("Malformed input")
struct MalformedInputTests {
    /// Every byte that starts a term somewhere in the format, decodable or refused by name.
    static let knownTags: Set<UInt8> = [70, 77, 80, 82, 88, 89, 90, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107,
                                        108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121]

    static let unknownTags: [UInt8] = (0...255).map { UInt8($0) }.filter { !knownTags.contains($0) }

    @Test(arguments: unknownTags)
    func unknownTagIsNamed(_ tag: UInt8) {
        #expect(decodeBody([tag, 0, 0, 0, 0]) == .failure(TermDecodingError(.unknownTag(tag), at: 1)))
        #expect(decodeBody([104, 2, 97, 1, tag]) == .failure(TermDecodingError(.unknownTag(tag), at: 5)))
    }

    @Test(arguments: (0...255).map { UInt8($0) }.filter { $0 != 131 })
    func badVersionByte(_ byte: UInt8) {
        let result = Result { () throws(TermDecodingError) -> Term in try TermDecoder().decode([byte, 97, 1]) }
        #expect(result == .failure(TermDecodingError(.badVersion(byte), at: 0)))
    }

    @Test func trailingBytesAreCounted() {
        #expect(decodeBody([97, 1, 97, 2, 3]) == .failure(TermDecodingError(.trailingBytes(3), at: 3)))
        #expect(decodeBody([106, 0]) == .failure(TermDecodingError(.trailingBytes(1), at: 2)))
    }

    /// A length field that claims more than the input holds, by one byte and by 4 GB.
    static let overlongs: [(String, [UInt8])] = [
        ("LARGE_TUPLE by one", [105, 0, 0, 0, 3, 97, 1, 97, 2]),
        ("LARGE_TUPLE by 4 G", [105, 255, 255, 255, 255, 97, 1]),
        ("SMALL_TUPLE by one", [104, 3, 97, 1, 97, 2]),
        ("LIST by one", [108, 0, 0, 0, 2, 97, 1]),
        ("LIST by 4 G", [108, 255, 255, 255, 255, 97, 1, 106]),
        ("LIST without its tail", [108, 0, 0, 0, 1, 97, 1]),
        ("STRING by one", [107, 0, 3, 97, 98]),
        ("STRING by 64 K", [107, 255, 255, 97]),
        ("BINARY by one", [109, 0, 0, 0, 3, 1, 2]),
        ("BINARY by 4 G", [109, 255, 255, 255, 255, 1, 2]),
        ("BIT_BINARY by 4 G", [77, 255, 255, 255, 255, 3, 1]),
        ("MAP by 4 G", [116, 255, 255, 255, 255, 97, 1, 97, 2]),
        ("MAP with a key but no value", [116, 0, 0, 0, 1, 97, 1]),
        ("MAP of 3 pairs holding 2 and a key", [116, 0, 0, 0, 3, 97, 1, 97, 1, 97, 2, 97, 2, 97, 3]),
        ("SMALL_ATOM_UTF8 by one", [119, 3, 97, 98]),
        ("ATOM_UTF8 by 64 K", [118, 255, 255, 97]),
        ("ATOM_EXT by one", [100, 0, 2, 97]),
        ("SMALL_BIG by one", [110, 3, 0, 1, 2]),
        ("LARGE_BIG by 4 G", [111, 255, 255, 255, 255, 0, 1, 2]),
        ("NEWER_REFERENCE words", [90, 0, 3, 119, 1, 97, 0, 0, 0, 1, 0, 0, 0, 1]),
        ("NEW_FUN size by 4 G", [112, 255, 255, 255, 255, 0]),
        ("NEW_FUN free variables by 4 G", [112, 0, 0, 0, 40, 0] + [UInt8](repeating: 0, count: 16) + be32(0) + be32(.max)
            + [119, 1, 109, 97, 0, 97, 0] + [106] + [UInt8](repeating: 97, count: 7)),
        ("FLOAT_EXT text", [99, 49, 46, 48, 0]),
        ("NEW_FLOAT bytes", [70, 0, 0, 0]),
    ]

    @Test(arguments: overlongs)
    func lengthBeyondTheInput(_ name: String, _ body: [UInt8]) {
        let result = decodeBody(body)
        guard case .failure(let error) = result else {
            Issue.record("\(name): decoded \(result)")
            return
        }
        #expect(error.kind == .truncated, "\(name): \(error)")
        #expect(error.offset >= 1 && error.offset <= body.count + 1, "\(name): \(error)")
    }

    /// Every count is checked against the bytes left before anything is reserved, so a 4 GB
    /// claim in a 1 MB input costs nothing. (`scripts/fuzz.sh` enforces this with libFuzzer's
    /// `-malloc_limit_mb`, which fails on any single allocation over the limit.)
    @Test func absurdCountsInALargeInputFailFast() {
        let padding = [UInt8](repeating: 97, count: 1 << 20)
        for header: [UInt8] in [[105, 255, 255, 255, 255], [108, 255, 255, 255, 255], [116, 255, 255, 255, 255],
                                [109, 255, 255, 255, 255], [77, 255, 255, 255, 255, 1], [111, 255, 255, 255, 255, 0]] {
            #expect(decodeBody(header + padding) == .failure(TermDecodingError(.truncated, at: header.count + 1)), "\(header)")
        }
    }

    /// A chain of headers that each claim the rest of the input: each level may reserve room
    /// only for a few elements (`Reader.initialCapacity`), or 2,000 levels of a 1 MB input
    /// would reserve about 100 GB before failing.
    @Test func nestedAbsurdCountsFailWithinTheDepthLimit() {
        let levels = 200_000
        var body: [UInt8] = []
        body.reserveCapacity(levels * 5)
        for level in 1...levels { body += [105] + be32(UInt32((levels - level) * 5)) }
        // Level 2,001's header ends at byte 1 + 5 × 2,001 (after the version byte).
        #expect(decodeBody(body) == .failure(TermDecodingError(.tooDeep(limit: 2_000), at: 1 + 5 * 2_001)))
    }

    /// Not valid UTF-8, or more than the 255 characters an atom may have.
    static let badAtoms: [(String, [UInt8])] = [
        ("a lone continuation byte", [119, 1, 0x80]),
        ("a cut two-byte sequence", [119, 2, 0x61, 0xC3]),
        ("a bad continuation", [119, 2, 0xC3, 0x28]),
        ("an overlong NUL", [119, 2, 0xC0, 0x80]),
        ("an overlong slash", [119, 3, 0xE0, 0x80, 0xAF]),
        ("a UTF-16 surrogate", [119, 3, 0xED, 0xA0, 0x80]),
        ("a code point above U+10FFFF", [119, 4, 0xF4, 0x90, 0x80, 0x80]),
        ("a 0xFF byte", [118, 0, 1, 0xFF]),
        ("256 characters", [118, 1, 0] + [UInt8](repeating: 97, count: 256)),
        ("256 two-byte characters", [118, 2, 0] + [UInt8](repeating: 0, count: 256).flatMap { _ in [0xC3, 0xA9] }),
        ("256 Latin-1 characters", [100, 1, 0] + [UInt8](repeating: 233, count: 256)),
    ]

    @Test(arguments: badAtoms)
    func invalidAtoms(_ name: String, _ body: [UInt8]) {
        #expect(decodeBody(body) == .failure(TermDecodingError(.invalidAtom, at: 1)), "\(name)")
        #expect(decodeBody([104, 1] + body) == .failure(TermDecodingError(.invalidAtom, at: 3)), "\(name) in a tuple")
        #expect(decodeBody([88] + body + be32(1) + be32(2) + be32(3)) == .failure(TermDecodingError(.invalidAtom, at: 2)),
                "\(name) as a pid's node")
    }

    /// binary_to_term rejects a map with a key twice; the message quotes the key, cut short.
    @Test func duplicateMapKeys() {
        #expect(decodeBody([116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2])
            == .failure(TermDecodingError(.invalidValue("map has the key 1 twice"), at: 1)))
        let big: [UInt8] = [109] + be32(1 << 20) + [UInt8](repeating: 0, count: 1 << 20)
        let result = decodeBody([116, 0, 0, 0, 2] + big + [97, 1] + big + [97, 2])
        guard case .failure(let error) = result, case .invalidValue(let message) = error.kind else {
            Issue.record("decoded \(result)")
            return
        }
        #expect(error.offset == 1)
        #expect(message.hasPrefix("map has the key <<0,0,0,") && message.hasSuffix("...>> twice"))
        #expect(error.description.count < 300)
    }

    @Test func improperListTails() {
        // The tail is a term like any other: broken, it fails where it breaks.
        #expect(decodeBody([108, 0, 0, 0, 1, 97, 1, 200]) == .failure(TermDecodingError(.unknownTag(200), at: 8)))
        #expect(decodeBody([108, 0, 0, 0, 1, 97, 1, 119, 1, 0xFF]) == .failure(TermDecodingError(.invalidAtom, at: 8)))
        #expect(decodeBody([108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2])
            == .failure(TermDecodingError(.truncated, at: 15)))
        // A compressed term is only allowed at the top.
        #expect(decodeBody([108, 0, 0, 0, 1, 97, 1, 80, 0, 0, 0, 1, 120, 156])
            == .failure(TermDecodingError(.invalidValue("compressed term inside a term"), at: 8)))
    }

    /// Every message names the byte and says what is wrong.
    @Test func descriptionsAreReadable() {
        let cases: [(TermDecodingError, String)] = [
            (TermDecodingError(.truncated, at: 7), "malformed Erlang term at byte 7: input ends in the middle of a term"),
            (TermDecodingError(.badVersion(130), at: 0), "malformed Erlang term at byte 0: expected version byte 131, found 130"),
            (TermDecodingError(.unknownTag(42), at: 3), "malformed Erlang term at byte 3: unknown term tag 42"),
            (TermDecodingError(.invalidAtom, at: 1), "malformed Erlang term at byte 1: atom text is not valid"),
            (TermDecodingError(.tooDeep(limit: 5), at: 11), "malformed Erlang term at byte 11: term nested deeper than 5 levels"),
            (TermDecodingError(.trailingBytes(2), at: 9), "malformed Erlang term at byte 9: 2 bytes left after the term"),
        ]
        for (error, text) in cases { #expect(error.description == text) }
    }
}
