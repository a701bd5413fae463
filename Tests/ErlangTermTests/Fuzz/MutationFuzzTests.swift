import ErlangTerm
import Foundation
import Testing

/// In-process fuzzing, deterministic and quick enough for every test run: seeded mutations
/// (bit flips, byte sets, truncation, splicing, inflated length fields, repeated slices) of valid
/// encodings. Every outcome must be a term or a `TermDecodingError` at an offset inside the
/// input, and every term decoded must re-encode to bytes that decode to an equal term, and be
/// described as Erlang that `TermParser` reads back (when it has literal syntax); `FlatTerm`
/// must accept and reject the same inputs and decode equal terms.
/// `scripts/fuzz.sh` runs the same properties under libFuzzer, with coverage guidance.
@Suite("Mutation fuzzing")
struct MutationFuzzTests {
    static let iterations = 100_000

    static func seeds() -> [[UInt8]] {
        var random = RandomTerms(seed: 31_337, kinds: .init(maxDepth: 3))
        var seeds = random.terms(400).map { $0.encoded() }.filter { $0.count <= 512 }
        for term in random.terms(40) {
            // Three copies compress well, so these go through the zlib path.
            let compressed = Term.list([term, term, term]).encodedCompressed()
            if compressed[1] == 80, compressed.count <= 512 { seeds.append(compressed) }
        }
        for vector in VectorCrossCheckTests.written + VectorCrossCheckTests.read where vector.bytes.count < 512 {
            seeds.append([131] + vector.bytes)
        }
        return seeds
    }

    struct Outcome: Sendable {
        var decoded = 0
        var rejected: [String: Int] = [:]
        var problems: [String] = []
        var compressedSeeds = 0
        var seconds = 0.0
    }

    @Test func mutatedEncodingsDecodeOrFailCleanly() async throws {
        let outcome = try await onLargeStack { () -> Outcome in
            let seeds = Self.seeds()
            var outcome = Outcome()
            outcome.compressedSeeds = seeds.filter { $0.count > 1 && $0[1] == 80 }.count
            var mutator = Mutator(seed: 0xF022, seeds: seeds)
            let decoder = TermDecoder(maxUncompressedSize: 1 << 20)
            let start = Date()
            for iteration in 0..<Self.iterations {
                let input = mutator.next()
                if let disagreement = FlatTermTests.disagreement(input, decoder: decoder) {
                    outcome.problems.append("iteration \(iteration), FlatTerm: \(disagreement)")
                }
                do throws(TermDecodingError) {
                    let term = try decoder.decode(input)
                    outcome.decoded += 1
                    if let problem = Self.problem(with: term, decoder: decoder) {
                        outcome.problems.append("iteration \(iteration), input \(input): \(problem)")
                    }
                } catch {
                    outcome.rejected[Self.name(of: error.kind), default: 0] += 1
                    if error.offset < 0 || error.offset > input.count || error.description.isEmpty {
                        outcome.problems.append("iteration \(iteration): \(error) for a \(input.count)-byte input")
                    }
                }
                if outcome.problems.count >= 5 { break }
            }
            outcome.seconds = Date().timeIntervalSince(start)
            return outcome
        }
        #expect(outcome.problems.isEmpty, "\(outcome.problems)")
        #expect(outcome.compressedSeeds >= 10)
        // Both outcomes are common, and every kind of error is reached.
        #expect(outcome.decoded > Self.iterations / 20, "decoded \(outcome.decoded)")
        for kind in ["truncated", "unknownTag", "invalidAtom", "invalidValue", "trailingBytes"] {
            #expect(outcome.rejected[kind, default: 0] > 100, "\(kind): \(outcome.rejected)")
        }
        print("mutation fuzzing: \(Self.iterations) inputs in \(outcome.seconds) s, \(outcome.decoded) decoded, rejected \(outcome.rejected)")
    }

    /// What is wrong with a decoded term, if anything.
    static func problem(with term: Term, decoder: TermDecoder) -> String? {
        do {
            let again = try decoder.decode(term.encoded())
            guard again == term else { return "re-encoded, \(term) decodes as \(again)" }
        } catch {
            return "re-encoded, \(term) does not decode: \(error)"
        }
        guard term.hasLiteralSyntax() else { return nil }
        let text = term.erlangDescription
        do {
            let parsed = try TermParser.parse(text)
            return parsed == term ? nil : "description \(text) reads back as \(parsed)"
        } catch {
            return "description \(text) does not parse: \(error)"
        }
    }

    static func name(of kind: TermDecodingError.Kind) -> String {
        switch kind {
        case .truncated: "truncated"
        case .badVersion: "badVersion"
        case .unknownTag: "unknownTag"
        case .invalidAtom: "invalidAtom"
        case .invalidValue: "invalidValue"
        case .tooDeep: "tooDeep"
        case .tooLarge: "tooLarge"
        case .trailingBytes: "trailingBytes"
        case .unsupported: "unsupported"
        }
    }
}
