import ErlangTerm
import Testing

/// NEW_PID_EXT (OTP 23+: 32-bit id, serial and creation) both ways; the legacy PID_EXT, whose
/// creation is one byte of which binary_to_term allows only 2 bits, decodes only.
@Suite("Pid encoding")
struct PidEncodingTests {
    static let node = atomBytes("a@b")

    static let vectors: [CodecVector] = [
        CodecVector("<a@b.1.2> creation 3", .pid(Pid(node: "a@b", id: 1, serial: 2, creation: 3)),
                    [88] + node + be32(1) + be32(2) + be32(3)),
        CodecVector("<0.5.0> of a node that is not alive, as OTP 28 writes it",
                    .pid(Pid(node: "nonode@nohost", id: 5, serial: 0, creation: 0)),
                    [88] + atomBytes("nonode@nohost") + be32(5) + be32(0) + be32(0)),
        CodecVector("all-ones fields", .pid(Pid(node: "a@b", id: .max, serial: .max, creation: .max)),
                    [88] + node + be32(.max) + be32(.max) + be32(.max)),
        CodecVector("UTF-8 node name", .pid(Pid(node: "ünï@høst", id: 7, serial: 1, creation: 0x1234_5678)),
                    [88] + atomBytes("ünï@høst") + be32(7) + be32(1) + [0x12, 0x34, 0x56, 0x78]),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    static let legacy: [CodecVector] = [
        CodecVector("PID_EXT creation 3", .pid(Pid(node: "a@b", id: 1, serial: 2, creation: 3)),
                    [103] + legacyAtomBytes("a@b") + be32(1) + be32(2) + [3]),
        CodecVector("PID_EXT creation 0", .pid(Pid(node: "a@b", id: 1, serial: 2, creation: 0)),
                    [103] + legacyAtomBytes("a@b") + be32(1) + be32(2) + [0]),
        CodecVector("NEW_PID_EXT with an ATOM_EXT node, as OTP 25 writes it",
                    .pid(Pid(node: "nonode@nohost", id: 5, serial: 0, creation: 0)),
                    [88] + legacyAtomBytes("nonode@nohost") + be32(5) + be32(0) + be32(0)),
    ]

    @Test(arguments: legacy)
    func decodesLegacy(_ vector: CodecVector) { vector.expectDecodes() }

    @Test func rejectsWideLegacyCreation() {
        let body: [UInt8] = [103] + legacyAtomBytes("a@b") + be32(1) + be32(2) + [4]
        #expect(decodeBody(body) == .failure(TermDecodingError(.invalidValue("creation 4 in a legacy 2-bit creation field"), at: 16)))
    }

    @Test func rejectsANonAtomNode() {
        #expect(decodeBody([88, 97, 1] + be32(1) + be32(2) + be32(3))
            == .failure(TermDecodingError(.invalidValue("expected an atom, found tag 97"), at: 2)))
    }
}
