import ErlangTerm
import Testing

/// A hand-checked encoding: `bytes` is what `term_to_binary/1` writes after the version byte.
/// Table-driven tests check both directions, so a vector cannot pass by accident in one.
struct CodecVector: Sendable, CustomTestStringConvertible {
    let name: String
    let term: Term
    let bytes: [UInt8]

    init(_ name: String, _ term: Term, _ bytes: [UInt8]) {
        self.name = name
        self.term = term
        self.bytes = bytes
    }

    var testDescription: String { name }

    func expectEncodes(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(term.encoded() == [ExternalTermFormat.version] + bytes, "\(name)", sourceLocation: sourceLocation)
    }

    func expectDecodes(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(decodeBody(bytes) == .success(term), "\(name)", sourceLocation: sourceLocation)
    }
}

/// Decodes `body` (a term without the version byte) as `binary_to_term` would, with the
/// version byte added.
func decodeBody(_ body: [UInt8], decoder: TermDecoder = TermDecoder()) -> Result<Term, TermDecodingError> {
    Result { () throws(TermDecodingError) -> Term in try decoder.decode([ExternalTermFormat.version] + body) }
}

/// The bytes of a `SMALL_ATOM_UTF8_EXT`, the way atoms are written everywhere in vectors.
func atomBytes(_ name: String) -> [UInt8] {
    let utf8 = Array(name.utf8)
    return [119, UInt8(utf8.count)] + utf8
}

/// Four big-endian bytes, for length fields in vectors.
func be32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
     UInt8(truncatingIfNeeded: value)]
}

/// Two big-endian bytes.
func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(truncatingIfNeeded: value)] }

/// Eight big-endian bytes.
func be64(_ value: UInt64) -> [UInt8] { be32(UInt32(value >> 32)) + be32(UInt32(truncatingIfNeeded: value)) }

/// The bytes of a legacy Latin-1 `ATOM_EXT`, as OTP 25's `term_to_binary` still writes atoms.
func legacyAtomBytes(_ name: String) -> [UInt8] {
    let latin1 = name.unicodeScalars.map { UInt8($0.value) }
    return [100] + be16(UInt16(latin1.count)) + latin1
}
