import BigInt
import ErlangTerm
import Foundation
import NumbatTestSupport
import Testing

/// `erlangDescription` writes Erlang: for every term with literal syntax, from the BEAM's corpus
/// and from Swift's random terms, the BEAM's own parser (`erl_scan` + `erl_parse:parse_term`)
/// must read the description as a term `=:=` to the original, and `TermParser` must read it as
/// an equal term.
@Suite("Erlang description round trip")
struct DescriptionRoundTripTests {
    static let corpusSeed = 3_141
    static let corpusCount = 2_000
    static let randomSeed: UInt64 = 1_414
    static let randomCount = 1_000

    struct Outcome: Sendable {
        var described = 0
        var parserFailures: [String] = []
        var printed = ""
    }

    /// Descriptions up to 100 KB: the corpus's 70,000-element list and tuple and its 300 KB and
    /// 1 MB binaries would take seconds to scan and parse, on both sides, in a debug build, and
    /// add nothing that smaller terms and the binary round trip do not cover.
    static let maxTextSize = 100_000

    /// The corpus's ±2^100000: writing one in decimal takes BigInt 3 s in a debug build
    /// (quadratic division), so they are left to the binary round trip and to smaller
    /// literals in `TermParserTests`.
    static func hasHugeInteger(_ term: Term) -> Bool {
        switch term {
        case .bigInteger(let value): return value.magnitude.bitWidth > 10_000
        case .tuple(let elements), .list(let elements): return elements.contains(where: hasHugeInteger)
        case .improperList(let elements, let tail): return elements.contains(where: hasHugeInteger) || hasHugeInteger(tail)
        case .map(let pairs): return pairs.contains { hasHugeInteger($0.key) || hasHugeInteger($0.value) }
        default: return false
        }
    }

    @Test(arguments: OTPRelease.installed)
    func descriptionsReadBack(_ release: OTPRelease) async throws {
        var random = RandomTerms(seed: Self.randomSeed, kinds: .init(identifiers: false, funs: false))
        let randomTerms = random.terms(Self.randomCount)
        let outcome = try await onLargeStack {
            try withTemporaryDirectory { directory in
                let module = try ErlangCorpus.sharedDirectory()
                let corpusFile = directory.appendingPathComponent("corpus.bin")
                let bytesFile = directory.appendingPathComponent("described.bin")
                let textFile = directory.appendingPathComponent("descriptions.bin")
                _ = try ErlangCorpus.run(release, in: module,
                    "numbat_term_corpus:generate(\(Self.corpusSeed), \(Self.corpusCount), \(ErlangCorpus.quoted(corpusFile.path)))")
                var terms = randomTerms
                for record in try RecordFile.read(from: corpusFile) {
                    let term = try Term(decoding: record)
                    if term.hasLiteralSyntax(), !Self.hasHugeInteger(term) { terms.append(term) }
                }
                var outcome = Outcome()
                var texts: [[UInt8]] = []
                var described: [Term] = []
                for term in terms {
                    let text = term.erlangDescription
                    guard text.utf8.count <= Self.maxTextSize else { continue }
                    described.append(term)
                    texts.append(Array(text.utf8))
                    do {
                        let parsed = try TermParser.parse(text)
                        if parsed != term { outcome.parserFailures.append("\(text) reads as \(parsed)") }
                    } catch {
                        outcome.parserFailures.append("\(text.prefix(200)): \(error)")
                    }
                }
                outcome.described = described.count
                try RecordFile.write(described.map { $0.encoded() }, to: bytesFile)
                try RecordFile.write(texts, to: textFile)
                outcome.printed = try ErlangCorpus.run(release, in: module,
                    "numbat_term_corpus:check_descriptions(\(ErlangCorpus.quoted(bytesFile.path)), \(ErlangCorpus.quoted(textFile.path)))")
                return outcome
            }
        }
        #expect(outcome.described > Self.randomCount + 800, "about half the corpus terms have literal syntax")
        #expect(outcome.parserFailures.isEmpty, "TermParser: \(outcome.parserFailures.prefix(3))")
        #expect(ErlangCorpus.number(after: "described", in: outcome.printed) == outcome.described, "\(outcome.printed)")
        #expect(ErlangCorpus.number(after: "texts", in: outcome.printed) == outcome.described, "\(outcome.printed)")
        #expect(ErlangCorpus.number(after: "mismatches", in: outcome.printed) == 0, "\(outcome.printed)")
    }
}
