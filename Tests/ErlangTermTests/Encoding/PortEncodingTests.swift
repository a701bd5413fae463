import ErlangTerm
import Testing

/// V4_PORT_EXT (64-bit id, OTP 24+), which `TermEncoder` writes for every port as OTP 26+ does;
/// NEW_PORT_EXT (32-bit id, what OTP 25 writes for ids below 2^28) and the legacy PORT_EXT
/// decode only.
@Suite("Port encoding")
struct PortEncodingTests {
    static let node = atomBytes("a@b")

    static let vectors: [CodecVector] = [
        CodecVector("#Port<a@b.1> creation 7", .port(Port(node: "a@b", id: 1, creation: 7)),
                    [120] + node + be64(1) + be32(7)),
        CodecVector("#Port<nonode@nohost.5>, as OTP 28 writes it", .port(Port(node: "nonode@nohost", id: 5, creation: 0)),
                    [120] + atomBytes("nonode@nohost") + be64(5) + be32(0)),
        CodecVector("2^28, which OTP 25 writes as V4_PORT_EXT too", .port(Port(node: "a@b", id: 1 << 28, creation: 7)),
                    [120] + node + be64(1 << 28) + be32(7)),
        CodecVector("2^32", .port(Port(node: "a@b", id: 1 << 32, creation: 7)), [120] + node + be64(1 << 32) + be32(7)),
        CodecVector("the largest 64-bit id", .port(Port(node: "a@b", id: .max, creation: .max)),
                    [120] + node + be64(.max) + be32(.max)),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    static let legacy: [CodecVector] = [
        CodecVector("NEW_PORT_EXT", .port(Port(node: "a@b", id: 1, creation: 7)), [89] + node + be32(1) + be32(7)),
        CodecVector("NEW_PORT_EXT, the largest 32-bit id", .port(Port(node: "a@b", id: 0xFFFF_FFFF, creation: 0)),
                    [89] + node + be32(.max) + be32(0)),
        CodecVector("NEW_PORT_EXT with an ATOM_EXT node, as OTP 25 writes it",
                    .port(Port(node: "nonode@nohost", id: 5, creation: 0)),
                    [89] + legacyAtomBytes("nonode@nohost") + be32(5) + be32(0)),
        CodecVector("PORT_EXT creation 3", .port(Port(node: "a@b", id: 1, creation: 3)),
                    [102] + legacyAtomBytes("a@b") + be32(1) + [3]),
    ]

    @Test(arguments: legacy)
    func decodesLegacy(_ vector: CodecVector) { vector.expectDecodes() }

    @Test func rejectsWideLegacyCreation() {
        let body: [UInt8] = [102] + legacyAtomBytes("a@b") + be32(1) + [4]
        #expect(decodeBody(body) == .failure(TermDecodingError(.invalidValue("creation 4 in a legacy 2-bit creation field"), at: 12)))
    }
}
