import ErlangTerm
import Testing

/// `TermDecoder.decode(_:offset:)`: terms without version bytes, one after another in a buffer,
/// as distribution frames carry them.
@Suite("Decoding from a buffer")
struct StreamDecodingTests {
    static func decodeAll(_ bytes: [UInt8], from start: Int = 0) -> Result<[Term], TermDecodingError> {
        bytes.withUnsafeBytes { raw in
            Result { () throws(TermDecodingError) -> [Term] in
                var offset = start
                var terms: [Term] = []
                while offset < raw.count { terms.append(try TermDecoder().decode(raw, offset: &offset)) }
                return terms
            }
        }
    }

    static func decodeOne(_ bytes: [UInt8], at start: Int) -> Result<Term, TermDecodingError> {
        bytes.withUnsafeBytes { raw in
            Result { () throws(TermDecodingError) -> Term in
                var offset = start
                return try TermDecoder().decode(raw, offset: &offset)
            }
        }
    }

    @Test func consecutiveTerms() {
        let terms: [Term] = [.tuple([2, .atom(""), .pid(Pid(node: "a@b", id: 1, serial: 0, creation: 1))]), "payload", [1, 2], .map([:])]
        var encoder = TermEncoder()
        for term in terms { encoder.encode(term) }
        #expect(Self.decodeAll(encoder.bytes) == .success(terms))
        #expect(Self.decodeAll([112] + encoder.bytes, from: 1) == .success(terms))
    }

    @Test func compressedTermInABuffer() throws {
        let term = Term.list([Term](repeating: .atom("abc"), count: 200))
        let compressed = Array(term.encodedCompressed().dropFirst())
        try #require(compressed[0] == 80)
        #expect(Self.decodeAll(compressed + [97, 1]) == .success([term, 1]))
    }

    /// An offset outside the buffer is an error, not an out-of-bounds read.
    @Test(arguments: [-1, -1_000, 3, 4, Int.max])
    func offsetsOutsideTheBuffer(_ offset: Int) {
        #expect(Self.decodeOne([97, 1, 106], at: offset) == .failure(TermDecodingError(.truncated, at: offset)))
    }

    @Test func errorsReportOffsetsInTheBuffer() {
        #expect(Self.decodeOne([97, 1, 104, 1, 97], at: 2) == .failure(TermDecodingError(.truncated, at: 5)))
        #expect(Self.decodeOne([97, 1, 104, 2, 97], at: 2) == .failure(TermDecodingError(.truncated, at: 4)))
        #expect(Self.decodeOne([97, 1, 104, 1, 200], at: 2) == .failure(TermDecodingError(.unknownTag(200), at: 4)))
    }

    @Test func emptyBuffer() {
        #expect(Self.decodeOne([], at: 0) == .failure(TermDecodingError(.truncated, at: 0)))
    }
}
