import ErlangTerm
import Testing

/// NEW_FLOAT_EXT (IEEE 754 big-endian) both ways; the legacy FLOAT_EXT (`minor_version 0`: 31
/// bytes of `%.20e` text) decodes only, read as strictly as binary_to_term reads it.
@Suite("Float encoding")
struct FloatEncodingTests {
    static let vectors: [CodecVector] = [
        CodecVector("1.5", .float(1.5), [70, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0]),
        CodecVector("-2.5", .float(-2.5), [70, 0xC0, 0x04, 0, 0, 0, 0, 0, 0]),
        CodecVector("0.0", .float(0.0), [70, 0, 0, 0, 0, 0, 0, 0, 0]),
        CodecVector("-0.0, a different term from 0.0 since OTP 27", .float(-0.0), [70, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        CodecVector("0.1", .float(0.1), [70, 0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A]),
        CodecVector("5.0e-324, the least subnormal", .float(.leastNonzeroMagnitude), [70, 0, 0, 0, 0, 0, 0, 0, 1]),
        CodecVector("the greatest finite double", .float(.greatestFiniteMagnitude),
                    [70, 0x7F, 0xEF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        CodecVector("1.0e16 from a float literal", 1.0e16, [70, 0x43, 0x41, 0xC3, 0x79, 0x37, 0xE0, 0x80, 0x00]),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    /// FLOAT_EXT text padded with NULs to 31 bytes.
    static func floatText(_ text: String, padding: UInt8 = 0) -> [UInt8] {
        let bytes = Array(text.utf8)
        return [99] + bytes + [UInt8](repeating: padding, count: 31 - bytes.count)
    }

    static let legacy: [CodecVector] = [
        CodecVector("1.5 as term_to_binary(1.5, [{minor_version, 0}])", .float(1.5), floatText("1.50000000000000000000e+00")),
        CodecVector("-2.5e-10", .float(-2.5e-10), floatText("-2.50000000000000000000e-10")),
        CodecVector("0.1 rounds to the same double", .float(0.1), floatText("1.00000000000000005551e-01")),
        CodecVector("-0.0 keeps its sign", .float(-0.0), floatText("-0.00000000000000000000e+00")),
        CodecVector("30 characters and the NUL", .float(1.5), floatText("1.5000000000000000000000000000")),
        CodecVector("bytes after the NUL are ignored", .float(1.5), [99] + Array("1.5".utf8) + [0] + [UInt8](repeating: 0x41, count: 27)),
        CodecVector("explicit plus sign", .float(1.0), floatText("+1.0")),
        CodecVector("upper-case exponent without sign", .float(150.0), floatText("1.5E2")),
        CodecVector("underflow reads as 0.0, as in Erlang", .float(0.0), floatText("1.0e-400")),
    ]

    @Test(arguments: legacy)
    func decodesLegacy(_ vector: CodecVector) { vector.expectDecodes() }

    /// binary_to_term rejects these (checked against OTP 25 and 28); Swift's `Double(String)`
    /// alone would accept several of them. The last fills all 31 bytes, leaving no NUL.
    @Test(arguments: ["1", "1.", ".5", "1.e5", " 1.5", "1.5 ", "1.5abc", "0x1p3", "inf", "nan", "-inf", "1.0e400", "1.0e", "",
                      "--1.0", "1.50000000000000000000000000000"])
    func rejectsLegacyText(_ text: String) {
        #expect(decodeBody(Self.floatText(text)) == .failure(TermDecodingError(.invalidValue("float text \"\(text)\""), at: 1)))
    }

    /// Erlang has no infinities or NaN; binary_to_term rejects their bit patterns.
    @Test(arguments: [Double.infinity, -.infinity, .nan, .signalingNaN])
    func rejectsNonFinite(_ value: Double) {
        let result = decodeBody([70] + be64(value.bitPattern))
        guard case .failure(let error) = result, case .invalidValue = error.kind else {
            Issue.record("decoded \(value): \(result)")
            return
        }
        #expect(error.offset == 1)
    }

    /// `Term` equality is Erlang's `=:=` of OTP 27+: by bit pattern, not by `Double ==`.
    @Test func equalityIsExact() throws {
        #expect(Term.float(0.0) != .float(-0.0))
        #expect(Set([Term.float(0.0), .float(-0.0)]).count == 2)
        #expect(Term.float(1.0) != .integer(1))
        let map: Term = .map([.float(0.0): .atom("a"), .float(-0.0): .atom("b")])
        #expect(try Term(decoding: map.encoded()) == map)
    }
}
