import ErlangTerm
import Testing

/// SMALL_ATOM_UTF8_EXT and ATOM_UTF8_EXT both ways; the legacy Latin-1 ATOM_EXT and
/// SMALL_ATOM_EXT (OTP 25's default, `minor_version 1`) and ATOM_CACHE_REF decode only.
@Suite("Atom encoding")
struct AtomEncodingTests {
    static let chinese85 = String(repeating: "中", count: 85)  // 255 UTF-8 bytes
    static let chinese86 = String(repeating: "中", count: 86)  // 258 UTF-8 bytes
    static let chinese255 = String(repeating: "中", count: 255)  // 765 UTF-8 bytes
    static let emoji255 = String(repeating: "😀", count: 255)  // 1,020 bytes, the most an atom can have

    static let vectors: [CodecVector] = [
        CodecVector("ok", .atom("ok"), [119, 2, 111, 107]),
        CodecVector("the empty atom ''", .atom(""), [119, 0]),
        CodecVector("true from a Bool literal", true, [119, 4, 116, 114, 117, 101]),
        CodecVector("é (U+E9) as UTF-8", .atom("é"), [119, 2, 0xC3, 0xA9]),
        CodecVector("e + combining acute, a different atom from é", .atom("e\u{301}"), [119, 3, 0x65, 0xCC, 0x81]),
        CodecVector("日本", .atom("日本"), [119, 6, 0xE6, 0x97, 0xA5, 0xE6, 0x9C, 0xAC]),
        CodecVector("😀, four UTF-8 bytes", .atom("😀"), [119, 4, 0xF0, 0x9F, 0x98, 0x80]),
        CodecVector("NUL", .atom("\u{0}"), [119, 1, 0]),
        CodecVector("255 ASCII characters", .atom(String(repeating: "x", count: 255)),
                    [119, 255] + [UInt8](repeating: 120, count: 255)),
        CodecVector("85 × 中, 255 bytes: the largest SMALL_ATOM_UTF8", .atom(chinese85),
                    [119, 255] + Array(chinese85.utf8)),
        CodecVector("86 × 中, 258 bytes: ATOM_UTF8", .atom(chinese86), [118, 1, 2] + Array(chinese86.utf8)),
        CodecVector("255 × 中, 765 bytes", .atom(chinese255), [118, 2, 0xFD] + Array(chinese255.utf8)),
        CodecVector("255 × 😀, 1,020 bytes", .atom(emoji255), [118, 3, 0xFC] + Array(emoji255.utf8)),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    /// What older encoders (and OTP 25 by default) write: Latin-1 bytes, one per character.
    static let legacy: [CodecVector] = [
        CodecVector("ATOM_EXT abc", .atom("abc"), [100, 0, 3, 97, 98, 99]),
        CodecVector("SMALL_ATOM_EXT abc", .atom("abc"), [115, 3, 97, 98, 99]),
        CodecVector("ATOM_EXT é as one Latin-1 byte", .atom("é"), [100, 0, 1, 233]),
        CodecVector("SMALL_ATOM_EXT éÿ", .atom("éÿ"), [115, 2, 233, 255]),
        CodecVector("ATOM_EXT U+85, a C1 control", .atom("\u{85}"), [100, 0, 1, 0x85]),
        CodecVector("ATOM_EXT of 255 × ÿ", .atom(String(repeating: "ÿ", count: 255)),
                    [100, 0, 255] + [UInt8](repeating: 255, count: 255)),
        CodecVector("ATOM_UTF8 with a short name", .atom("é"), [118, 0, 2, 195, 169]),
        CodecVector("ATOM_EXT empty", .atom(""), [100, 0, 0]),
    ]

    @Test(arguments: legacy)
    func decodesLegacy(_ vector: CodecVector) { vector.expectDecodes() }

    /// The decoder keeps the atoms it made in a table per thread (`AtomTable`), keyed by their
    /// bytes: the same bytes read as Latin-1 must still give the Latin-1 atom, more atoms than
    /// the table holds must each come back whole, and an invalid name must not be remembered.
    @Test func atomTableKeepsAtomsApart() {
        let utf8 = [119, 2, 0xC3, 0xA9] as [UInt8]
        let latin1 = [100, 0, 2, 0xC3, 0xA9] as [UInt8]
        for _ in 0..<3 {
            #expect(decodeBody(utf8) == .success(.atom("é")))
            #expect(decodeBody(latin1) == .success(.atom("Ã©")))
        }
        let names = (0..<2_000).map { "atom_\($0)_" + String(repeating: "x", count: $0 % 40) }
        let list = Term.list(names.map { .atom(Atom($0)) })
        for _ in 0..<2 { #expect(Result { () throws(TermDecodingError) in try TermDecoder().decode(list.encoded()) } == .success(list)) }
        #expect(decodeBody([119, 1, 0xFF]) == .failure(TermDecodingError(.invalidAtom, at: 1)))
        #expect(decodeBody([119, 1, 0xFF]) == .failure(TermDecodingError(.invalidAtom, at: 1)))
    }

    /// ATOM_CACHE_REF indexes the atoms of a distribution header, which the caller supplies.
    @Test func decodesAtomCacheReferences() {
        let decoder = TermDecoder(atomCache: ["rex", "call"])
        #expect(decodeBody([104, 2, 82, 0, 82, 1], decoder: decoder) == .success(.tuple([.atom("rex"), .atom("call")])))
        #expect(decodeBody([82, 2], decoder: decoder)
            == .failure(TermDecodingError(.invalidValue("atom cache reference 2 not in the header"), at: 1)))
        #expect(decodeBody([82, 0]) == .failure(TermDecodingError(.invalidValue("atom cache reference 0 not in the header"), at: 1)))
        // The flat decoder's nodes for references hold their index in the header's atoms, which
        // the flat term keeps.
        func flat(_ body: [UInt8], _ decoder: TermDecoder) -> Result<Term, TermDecodingError> {
            Result { () throws(TermDecodingError) -> Term in try FlatTerm(decoding: [ExternalTermFormat.version] + body, with: decoder).term }
        }
        #expect(flat([104, 3, 82, 1, 82, 0, 82, 1], decoder) == .success(.tuple([.atom("call"), .atom("rex"), .atom("call")])))
        // Read in place as atoms; as map keys, equal to the same atom by name (a duplicate key
        // either way is refused, as binary_to_term refuses it).
        let read = try? FlatTerm(decoding: [ExternalTermFormat.version, 104, 2, 82, 1, 116, 0, 0, 0, 2, 82, 0, 97, 1, 119, 4] + Array("call".utf8) + [97, 2],
                                 with: decoder)
        let first = read?.root.element(0), map = read?.root.element(1)
        #expect(first?.kind == .atom && first?.atom == "call" && first?.isAtom("call") == true && first?.isAtom("rex") == false)
        #expect(first?.atomName == "call" && first?.stringValue == nil)
        #expect(map?.value(forAtom: "rex")?.integer == 1 && map?.value(forAtom: "call")?.integer == 2)
        #expect(read?.term == .tuple([.atom("call"), .map([.atom("rex"): .integer(1), .atom("call"): .integer(2)])]))
        for duplicate: [UInt8] in [[82, 0], [119, 3] + Array("rex".utf8)] {
            let body: [UInt8] = [116, 0, 0, 0, 2, 82, 0, 97, 1] + duplicate + [97, 2]
            #expect(throws: TermDecodingError.self) { try FlatTerm(decoding: [ExternalTermFormat.version] + body, with: decoder) }
            #expect(throws: TermDecodingError.self) { try decoder.decode([ExternalTermFormat.version] + body) }
        }
        #expect(flat([108, 0, 0, 0, 2, 82, 0, 100, 0, 1, 0xE9, 106], decoder) == .success(.list([.atom("rex"), .atom("é")])))
        #expect(flat([104, 2, 82, 0, 82, 2], decoder)
            == .failure(TermDecodingError(.invalidValue("atom cache reference 2 not in the header"), at: 5)))
        #expect(flat([82, 0], TermDecoder()) == .failure(TermDecodingError(.invalidValue("atom cache reference 0 not in the header"), at: 1)))
    }

    /// Atoms are compared by code points, like the BEAM: canonically equivalent names differ.
    @Test func atomsCompareByCodePoint() {
        #expect(Atom("é") != Atom("e\u{301}"))
        #expect(Set([Term.atom("é"), .atom("e\u{301}")]).count == 2)
        #expect(Atom("a") < Atom("b") && Atom("Z") < Atom("a") && Atom("z") < Atom("é"))
        // Small (inline) and native (heap) strings, equal and differing only in their last byte.
        for length in [1, 15, 16, 40, 255] {
            let name = String(repeating: "n", count: length - 1)
            #expect(Atom(name + "x") == Atom(String((name + "x").utf8)))
            #expect(Atom(name + "x") != Atom(name + "y"))
            #expect(Atom(name + "é") != Atom(name + "e\u{301}"))
        }
        #expect(Atom("") == Atom(String()))
    }

    /// Erlang cannot hold an atom over 255 characters: the encoder writes the first 255 so the
    /// output stays readable, instead of a term binary_to_term rejects or, past 65,535 bytes,
    /// a length field that wraps and garbles the rest of the message.
    @Test func encodesOverlongAtomsCut() throws {
        let long = Term.tuple([.atom(Atom(String(repeating: "中", count: 300))), .atom("after")])
        #expect(long.encoded() == [131, 104, 2, 118, 2, 0xFD] + Array(Self.chinese255.utf8) + atomBytes("after"))
        let huge = Term.list([.atom(Atom(String(repeating: "x", count: 70_000))), .integer(1)])
        #expect(try Term(decoding: huge.encoded())
            == .list([.atom(Atom(String(repeating: "x", count: 255))), .integer(1)]))
    }
}
