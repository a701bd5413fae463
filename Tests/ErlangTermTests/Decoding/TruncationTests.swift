import ErlangTerm
import Testing

/// Every strict prefix of a valid encoding is an error, never a term, a trap or a hang: the
/// decoder checks each length against the bytes present before it reads or allocates.
@Suite("Truncated input")
struct TruncationTests {
    /// Hand-written vectors of every tag, plus seeded random terms.
    static let encodings: [[UInt8]] = {
        let vectors = VectorCrossCheckTests.written + VectorCrossCheckTests.read
        var random = RandomTerms(seed: 7, kinds: .init(maxDepth: 3))
        let plain = vectors.filter { $0.bytes.count < 2_000 && $0.bytes.first != 80 }.map { [131] + $0.bytes }
        return plain + random.terms(60).map { $0.encoded() }.filter { $0.count < 4_000 }
    }()

    @Test func everyPrefixOfEveryEncodingIsTruncated() {
        var prefixes = 0
        for encoding in Self.encodings {
            for length in 0..<encoding.count {
                prefixes += 1
                let prefix = Array(encoding[..<length])
                let result = Result { () throws(TermDecodingError) -> Term in try TermDecoder().decode(prefix) }
                guard case .failure(let error) = result else {
                    Issue.record("a \(length)-byte prefix of \(encoding.prefix(16))... decodes as \(result)")
                    continue
                }
                #expect(error.kind == .truncated, "prefix \(length) of \(encoding.prefix(16))...: \(error)")
                #expect(error.offset <= length && error.offset >= min(length, 1), "\(error) for a \(length)-byte prefix")
            }
        }
        #expect(prefixes > 20_000)
    }

    /// A prefix of a compressed term fails as truncated data or corrupt zlib data, at the
    /// compressed term's start or at the end of the input. zlib itself reports neither a cut
    /// stream nor a stream missing its checksum as an error; the decoder must notice.
    @Test func everyPrefixOfACompressedTermFails() throws {
        let encodings = CompressedEncodingTests.vectors.map { [131] + $0.bytes }
            + [Term.list((0..<500).map { .integer($0 % 7) }).encodedCompressed()]
        for encoding in encodings {
            try #require(encoding[1] == 80)
            for length in 0..<encoding.count {
                let result = Result { () throws(TermDecodingError) -> Term in try TermDecoder().decode(Array(encoding[..<length])) }
                guard case .failure(let error) = result else {
                    Issue.record("a \(length)-byte prefix of a compressed term decodes as \(result)")
                    continue
                }
                switch error.kind {
                case .truncated: #expect(error.offset == length || length < 6)
                case .invalidValue: #expect(error.offset == 1)
                default: Issue.record("a \(length)-byte prefix: \(error)")
                }
            }
        }
    }

    @Test func emptyInputAndVersionOnly() {
        #expect(Result { () throws(TermDecodingError) -> Term in try TermDecoder().decode([]) }
            == .failure(TermDecodingError(.truncated, at: 0)))
        #expect(Result { () throws(TermDecodingError) -> Term in try TermDecoder().decode([131]) }
            == .failure(TermDecodingError(.truncated, at: 1)))
    }
}
