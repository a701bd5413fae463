import ErlangTerm
import Foundation
import NumbatTestSupport
import Testing

/// Terms made by Swift survive the BEAM: seeded random terms are encoded by Swift (a third of
/// them compressed), read by `binary_to_term` and written back by `term_to_binary` (compressed
/// if they came compressed), and Swift must decode each echo as the term it sent. (A map with
/// both `0.0` and `-0.0` as keys would fail on OTP 25, where they are one key; this seed makes
/// none.)
@Suite("Erlang echo round trip")
struct EchoRoundTripTests {
    static let seed: UInt64 = 2_718
    static let count = 2_000

    struct Outcome: Sendable {
        var echoed: [[UInt8]] = []
        var printed = ""
    }

    @Test(arguments: OTPRelease.installed)
    func swiftTermsSurviveTheBEAM(_ release: OTPRelease) async throws {
        var random = RandomTerms(seed: Self.seed)
        let terms = random.terms(Self.count)
        let encoded = terms.enumerated().map { index, term in index % 3 == 0 ? term.encodedCompressed() : term.encoded() }
        #expect(encoded.filter { $0[1] == 80 }.count > 100, "some terms must really be compressed")
        let outcome = try await onLargeStack {
            try withTemporaryDirectory { directory in
                let module = try ErlangCorpus.sharedDirectory()
                let input = directory.appendingPathComponent("sent.bin")
                let output = directory.appendingPathComponent("echoed.bin")
                try RecordFile.write(encoded, to: input)
                let printed = try ErlangCorpus.run(release, in: module,
                    "numbat_term_corpus:echo(\(ErlangCorpus.quoted(input.path)), \(ErlangCorpus.quoted(output.path)))")
                return Outcome(echoed: try RecordFile.read(from: output), printed: printed)
            }
        }
        #expect(ErlangCorpus.number(after: "echoed", in: outcome.printed) == Self.count, "\(outcome.printed)")
        #expect(ErlangCorpus.number(after: "failed", in: outcome.printed) == 0, "\(outcome.printed)")
        try #require(outcome.echoed.count == Self.count)
        var mismatches = 0
        for (index, echo) in outcome.echoed.enumerated() {
            #expect((echo.count > 1 && echo[1] == 80) == (encoded[index][1] == 80), "term \(index) compressed both ways")
            let result = Result { () throws(TermDecodingError) -> Term in try Term(decoding: echo) }
            if result != .success(terms[index]) {
                mismatches += 1
                if mismatches <= 5 { Issue.record("term \(index): sent \(terms[index]), got back \(result)") }
            }
        }
        #expect(mismatches == 0)
    }
}
