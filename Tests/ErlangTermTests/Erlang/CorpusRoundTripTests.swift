import ErlangTerm
import Foundation
import NumbatTestSupport
import Testing

/// Terms made by the BEAM survive Swift: a seeded corpus of `term_to_binary` records (plain,
/// compressed, `minor_version 0`, legacy encodings, boundary values, real pids, ports,
/// references and funs) is decoded and re-encoded by Swift, and `binary_to_term` of every
/// re-encoding must be `=:=` to the original. Compressed records are re-encoded compressed.
@Suite("Erlang corpus round trip")
struct CorpusRoundTripTests {
    static let seed = 1_958
    static let count = 3_000

    struct Outcome: Sendable {
        var records = 0
        var compressed = 0
        var failures: [String] = []
        var generated = ""
        var checked = ""
    }

    @Test(arguments: OTPRelease.installed)
    func corpusSurvivesSwift(_ release: OTPRelease) async throws {
        let outcome = try await onLargeStack {
            try withTemporaryDirectory { directory in
                let module = try ErlangCorpus.sharedDirectory()
                let originalsFile = directory.appendingPathComponent("corpus.bin")
                let returnedFile = directory.appendingPathComponent("returned.bin")
                var outcome = Outcome()
                outcome.generated = try ErlangCorpus.run(release, in: module,
                    "numbat_term_corpus:generate(\(Self.seed), \(Self.count), \(ErlangCorpus.quoted(originalsFile.path)))")
                let originals = try RecordFile.read(from: originalsFile)
                outcome.records = originals.count
                let returned = originals.enumerated().map { index, record -> [UInt8] in
                    do {
                        let term = try Term(decoding: record)
                        if let disagreement = FlatTermTests.disagreement(record) {
                            outcome.failures.append("record \(index + 1), FlatTerm: \(disagreement.prefix(300))")
                        }
                        guard record.count > 1, record[1] == 80 else { return term.encoded() }
                        outcome.compressed += 1
                        return term.encodedCompressed()
                    } catch {
                        outcome.failures.append("record \(index + 1): \(error)")
                        return []
                    }
                }
                try RecordFile.write(returned, to: returnedFile)
                outcome.checked = try ErlangCorpus.run(release, in: module,
                    "numbat_term_corpus:check(\(ErlangCorpus.quoted(originalsFile.path)), \(ErlangCorpus.quoted(returnedFile.path)))")
                return outcome
            }
        }
        #expect(outcome.failures.isEmpty, "Swift cannot decode: \(outcome.failures.prefix(5))")
        #expect(ErlangCorpus.number(after: "generated", in: outcome.generated) == outcome.records)
        #expect(outcome.records > Self.count, "the corpus has \(Self.count) random terms plus fixed ones")
        #expect(outcome.compressed > 100, "about a tenth of the records are compressed")
        #expect(ErlangCorpus.number(after: "checked", in: outcome.checked) == outcome.records, "\(outcome.checked)")
        #expect(ErlangCorpus.number(after: "returned", in: outcome.checked) == outcome.records, "\(outcome.checked)")
        #expect(ErlangCorpus.number(after: "mismatches", in: outcome.checked) == 0, "\(outcome.checked)")
    }
}
