import ErlangTerm
import Testing

/// EXPORT_EXT (`fun M:F/A`) and NEW_FUN_EXT (a closure, kept opaque so it re-encodes byte for byte).
@Suite("Fun encoding")
struct FunEncodingTests {
    static let nonodePid: [UInt8] = [88] + atomBytes("nonode@nohost") + be32(0) + be32(0) + be32(0)
    static let uniq: [UInt8] = Array(0..<16)

    /// A closure with two free variables, `a` and `1`; its size field (72) counts itself.
    static let closure = Term.fun(Fun(
        arity: 1, uniq: uniq, index: 3, module: "m", oldIndex: 3, oldUniq: 12_345,
        pid: .pid(Pid(node: "nonode@nohost", id: 0, serial: 0, creation: 0)), freeVariables: [.atom("a"), 1]))

    /// `fun() -> X end` from a module `q`, as OTP 28.5's term_to_binary wrote it.
    static let otp28Closure = Term.fun(Fun(
        arity: 0, uniq: [205, 37, 97, 241, 255, 213, 127, 246, 147, 173, 184, 130, 118, 244, 193, 16], index: 41,
        module: "q", oldIndex: 41, oldUniq: 0x0669_2B0F,
        pid: .pid(Pid(node: "nonode@nohost", id: 0, serial: 0, creation: 0)), freeVariables: []))

    static let vectors: [CodecVector] = [
        CodecVector("fun lists:map/2", .export(module: "lists", function: "map", arity: 2),
                    [113] + atomBytes("lists") + atomBytes("map") + [97, 2]),
        CodecVector("fun 'a b':'C'/255", .export(module: "a b", function: "C", arity: 255),
                    [113] + atomBytes("a b") + atomBytes("C") + [97, 255]),
        CodecVector("a closure with free variables", closure,
                    [112] + be32(72) + [1] + uniq + be32(3) + be32(2) + atomBytes("m") + [97, 3, 98, 0, 0, 48, 57]
                        + nonodePid + atomBytes("a") + [97, 1]),
        CodecVector("a closure from OTP 28", otp28Closure,
                    [112, 0, 0, 0, 67, 0, 205, 37, 97, 241, 255, 213, 127, 246, 147, 173, 184, 130, 118, 244, 193, 16,
                     0, 0, 0, 41, 0, 0, 0, 0, 119, 1, 113, 97, 41, 98, 6, 105, 43, 15] + nonodePid),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    static let legacy: [CodecVector] = [
        CodecVector("EXPORT_EXT with ATOM_EXT names, as OTP 25 writes it", .export(module: "lists", function: "map", arity: 2),
                    [113] + legacyAtomBytes("lists") + legacyAtomBytes("map") + [97, 2]),
        CodecVector("EXPORT_EXT arity as INTEGER_EXT, which binary_to_term accepts", .export(module: "m", function: "f", arity: 1),
                    [113] + atomBytes("m") + atomBytes("f") + [98, 0, 0, 0, 1]),
    ]

    @Test(arguments: legacy)
    func decodesLegacy(_ vector: CodecVector) { vector.expectDecodes() }

    @Test func rejectsBadExportArity() {
        let prefix: [UInt8] = [113] + atomBytes("m") + atomBytes("f")
        #expect(decodeBody(prefix + [98, 0, 0, 1, 0]) == .failure(TermDecodingError(.invalidValue("export arity"), at: 1)))
        #expect(decodeBody(prefix + [98, 255, 255, 255, 255]) == .failure(TermDecodingError(.invalidValue("export arity"), at: 1)))
        #expect(decodeBody(prefix + [106]) == .failure(TermDecodingError(.invalidValue("export arity"), at: 1)))
    }

    /// The size field must cover exactly the fun's bytes.
    @Test(arguments: [Int32(-1), 1, -5])
    func rejectsWrongFunSize(_ delta: Int32) {
        var body = FunEncodingTests.vectors[2].bytes
        body.replaceSubrange(1..<5, with: be32(UInt32(bitPattern: 72 + delta)))
        let result = decodeBody(body + (delta > 0 ? [0] : []))
        guard case .failure(let error) = result else {
            Issue.record("decoded a fun whose size field is off by \(delta)")
            return
        }
        #expect(error.offset >= 1 && error.offset <= body.count + 1)
    }

    /// FUN_EXT (removed in OTP 23) and LOCAL_EXT (node-private) are refused by name.
    @Test func refusesRemovedAndLocalFuns() {
        #expect(decodeBody([117, 0, 0, 0, 0]) == .failure(TermDecodingError(.unsupported("FUN_EXT (removed in OTP 23)"), at: 1)))
        #expect(decodeBody([121, 0, 0, 0, 0])
            == .failure(TermDecodingError(.unsupported("LOCAL_EXT is only readable by the node that wrote it"), at: 1)))
    }
}
