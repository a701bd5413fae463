import ErlangTerm
import Foundation
import Testing

/// In-process fuzzing of `TermParser`, which reads text typed by users: seeded byte mutations
/// of descriptions of random terms. Every outcome must be a term or a `TermParseError` at a
/// position inside the text, and a term read must be described as text that reads back equal.
@Suite("Parser fuzzing")
struct ParserFuzzTests {
    static let iterations = 50_000

    struct Outcome: Sendable {
        var parsed = 0
        var rejected = 0
        var problems: [String] = []
    }

    @Test func mutatedDescriptionsParseOrFailCleanly() async throws {
        let outcome = try await onLargeStack { () -> Outcome in
            var random = RandomTerms(seed: 0x7E57, kinds: .init(identifiers: false, funs: true, maxDepth: 3))
            var seeds = random.terms(300).filter { $0.hasLiteralSyntax() }.map { Array($0.erlangDescription.utf8) }
            seeds = seeds.filter { $0.count <= 600 }
            seeds += TermParserTests.cases.map { Array($0.text.utf8) } + TermParserTests.errors.map { Array($0.0.utf8) }
            var mutator = Mutator(seed: 0xBEEF, seeds: seeds)
            var outcome = Outcome()
            for iteration in 0..<Self.iterations {
                let text = String(decoding: mutator.next(), as: UTF8.self)
                do throws(TermParseError) {
                    let term = try TermParser.parse(text)
                    outcome.parsed += 1
                    guard term.hasLiteralSyntax() else { continue }
                    let description = term.erlangDescription
                    if (try? TermParser.parse(description)) != term {
                        outcome.problems.append("iteration \(iteration): \(text) reads as \(term), described as \(description)")
                    }
                } catch {
                    outcome.rejected += 1
                    if error.position < 0 || error.position > text.unicodeScalars.count {
                        outcome.problems.append("iteration \(iteration): \(error) for \(text)")
                    }
                }
                if outcome.problems.count >= 5 { break }
            }
            return outcome
        }
        #expect(outcome.problems.isEmpty, "\(outcome.problems)")
        #expect(outcome.parsed > Self.iterations / 20 && outcome.rejected > Self.iterations / 2, "\(outcome.parsed) parsed")
    }
}
