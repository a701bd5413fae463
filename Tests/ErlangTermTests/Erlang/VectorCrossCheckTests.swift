import ErlangTerm
import Foundation
import NumbatTestSupport
import Testing

/// The hand-written vectors against the real thing: each one goes through `binary_to_term` and
/// back through `term_to_binary(T, [{minor_version, 2}])` (UTF-8 atoms, OTP 26+'s default). What
/// Swift writes must come back byte for byte, and what Swift only reads must mean, to the BEAM,
/// the term Swift reads it as. So the vectors are checked against OTP, not just against themselves.
@Suite("Vectors against the BEAM")
struct VectorCrossCheckTests {
    /// Vectors Swift writes. Maps of several pairs are out: their pair order is the writer's.
    static let written: [CodecVector] = IntegerEncodingTests.vectors + AtomEncodingTests.vectors
        + FloatEncodingTests.vectors + BinaryEncodingTests.vectors + TupleEncodingTests.vectors
        + ListEncodingTests.vectors + MapEncodingTests.vectors + PidEncodingTests.vectors
        + PortEncodingTests.vectors + ReferenceEncodingTests.vectors + FunEncodingTests.vectors

    /// Vectors Swift only reads.
    static let read: [CodecVector] = IntegerEncodingTests.nonCanonical + AtomEncodingTests.legacy
        + FloatEncodingTests.legacy + BinaryEncodingTests.nonCanonical + TupleEncodingTests.nonCanonical
        + ListEncodingTests.nonCanonical + MapEncodingTests.multiPair + PidEncodingTests.legacy
        + PortEncodingTests.legacy + ReferenceEncodingTests.legacy + FunEncodingTests.legacy
        + CompressedEncodingTests.vectors

    /// Where the BEAM writes something else than Swift, for a term both read the same.
    static func writesDifferently(_ term: Term, on release: OTPRelease) -> Bool {
        // OTP 25 writes NEW_PORT_EXT for ids below 2^28; OTP 26+ V4_PORT_EXT always, as Swift.
        if case .port(let port) = term, release == .otp25, port.id < 1 << 28 { return true }
        return false
    }

    /// Before OTP 27, `0.0 =:= -0.0`, so OTP 25 sees a duplicate key in this map and rejects it.
    static func beamReads(_ vector: CodecVector, on release: OTPRelease) -> Bool {
        !(release == .otp25 && vector.name == MapEncodingTests.signedZeroKeys.name)
    }

    @Test(arguments: OTPRelease.installed)
    func beamAgrees(_ release: OTPRelease) async throws {
        let vectors = (Self.written + Self.read).filter { Self.beamReads($0, on: release) }
        let echoed = try await onLargeStack {
            try withTemporaryDirectory { directory in
                let input = directory.appendingPathComponent("vectors.bin")
                let output = directory.appendingPathComponent("echoed.bin")
                try RecordFile.write(vectors.map { [ExternalTermFormat.version] + $0.bytes }, to: input)
                let printed = try ErlangScript.runBlocking(release, """
                    {ok, In} = file:read_file(\(ErlangCorpus.quoted(input.path))),
                    Split = fun Split(<<S:32, R:S/binary, Rest/binary>>, Acc) -> Split(Rest, [R | Acc]);
                                Split(<<>>, Acc) -> lists:reverse(Acc) end,
                    Echo = fun(R) -> try term_to_binary(binary_to_term(R), [{minor_version, 2}]) catch _:_ -> <<>> end end,
                    Out = [begin B = Echo(R), [<<(byte_size(B)):32>>, B] end || R <- Split(In, [])],
                    ok = file:write_file(\(ErlangCorpus.quoted(output.path)), Out),
                    io:format("echoed ~b~n", [length(Out)]),
                    halt().
                    """)
                #expect(printed.contains("echoed \(vectors.count)"), "\(printed)")
                return try RecordFile.read(from: output)
            }
        }
        try #require(echoed.count == vectors.count)
        for (index, vector) in vectors.enumerated() {
            let beam = echoed[index]
            guard !beam.isEmpty else {
                Issue.record("\(release): binary_to_term rejects \(vector.name)")
                continue
            }
            let isWritten = Self.written.contains { $0.name == vector.name && $0.bytes == vector.bytes }
            if isWritten, !Self.writesDifferently(vector.term, on: release) {
                #expect(beam == [ExternalTermFormat.version] + vector.bytes, "\(release) writes \(vector.name) differently")
            } else {
                #expect(decodeBody(Array(beam.dropFirst())) == .success(vector.term), "\(release) reads \(vector.name) differently")
            }
        }
    }
}
