import BigInt
import ErlangTerm
import Foundation
import Testing

/// `FlatTerm(decoding:)` accepts and rejects what `TermDecoder` does and decodes to an equal term,
/// for canonical encodings (random terms, plain and compressed) and for the non-canonical ones
/// `binary_to_term` also reads (lists whose tail is a list or a string, integers and atoms in
/// other encodings as duplicate map keys); its elements read the term in place.
@Suite("Flat term decoding")
struct FlatTermTests {
    /// Both decoders' outcomes for `bytes`: nil when they agree (an equal term, or both fail).
    static func disagreement(_ bytes: [UInt8], decoder: TermDecoder = TermDecoder()) -> String? {
        let expected = Result { () throws(TermDecodingError) -> Term in try decoder.decode(bytes) }
        let flat = Result { () throws(TermDecodingError) -> Term in try FlatTerm(decoding: bytes, with: decoder).term }
        switch (expected, flat) {
        case (.success(let term), .success(let flatTerm)):
            return term == flatTerm ? nil : "\(bytes): TermDecoder \(term), FlatTerm \(flatTerm)"
        case (.failure, .failure):
            return nil
        default:
            return "\(bytes): TermDecoder \(expected), FlatTerm \(flat)"
        }
    }

    @Test func randomTermsDecodeAlike() async throws {
        let problems = try await onLargeStack { () -> [String] in
            var random = RandomTerms(seed: 16_016)
            var problems: [String] = []
            for term in random.terms(2_000) {
                let plain = term.encoded()
                guard let flat = try? FlatTerm(decoding: plain) else {
                    problems.append("does not decode flat: \(term)")
                    continue
                }
                if flat.term != term { problems.append("\(term) decodes flat as \(flat.term)") }
                if let problem = Self.disagreement(term.encodedCompressed()) { problems.append("compressed: \(problem)") }
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems.prefix(3))")
    }

    /// Encodings term_to_binary never writes, which binary_to_term reads as canonical terms.
    static let nonCanonical: [(String, [UInt8], Term)] = [
        ("list tail of a list", [108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106],
         .list([.integer(1), .integer(2)])),
        ("string tail", [108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 65, 66],
         .list([.integer(1), .integer(65), .integer(66)])),
        ("improper tail", [108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3],
         .improperList([.integer(1), .integer(2)], tail: .integer(3))),
        ("empty list with a tail", [108, 0, 0, 0, 0, 97, 7], .integer(7)),
        ("empty string tail", [108, 0, 0, 0, 1, 97, 1, 107, 0, 0], .list([.integer(1)])),
        ("improper, tail after a nested element", [108, 0, 0, 0, 1, 104, 1, 97, 1, 97, 2],
         .improperList([.tuple([.integer(1)])], tail: .integer(2))),
        ("whole-byte bitstring", [77, 0, 0, 0, 2, 8, 1, 2], .binary([1, 2])),
        ("small big that fits", [110, 2, 1, 0, 1], .integer(-256)),
        ("Latin-1 atom", [115, 2, 0xE9, 0x65], .atom(Atom("\u{E9}e"))),
        ("legacy atom, ASCII", [100, 0, 2, 111, 107], .atom(.ok)),
    ]

    @Test(arguments: nonCanonical.map(\.0))
    func nonCanonicalEncodingsDecodeCanonically(_ name: String) throws {
        let (_, body, expected) = try #require(Self.nonCanonical.first { $0.0 == name })
        let flat = try FlatTerm(decoding: [131] + body)
        #expect(flat.term == expected)
        #expect(try TermDecoder().decode([131] + body) == expected)
    }

    /// Keys that are equal terms in different encodings are one key twice: refused by both, and
    /// the key named is the same (the first pair whose key came before), small maps and big.
    @Test(arguments: [2, 8, 9, 40])
    func duplicateKeysInOtherEncodingsAreRefused(_ pairs: Int) throws {
        let twins: [([UInt8], [UInt8])] = [
            ([97, 5], [98, 0, 0, 0, 5]),                      // 5 and 5 as INTEGER_EXT
            ([119, 2, 111, 107], [100, 0, 2, 111, 107]),      // ok in UTF-8 and Latin-1
            ([107, 0, 2, 65, 66], [108, 0, 0, 0, 2, 97, 65, 97, 66, 106]),  // "AB" as string and list
            ([115, 1, 0xE9], [119, 2, 0xC3, 0xA9]),           // é in Latin-1 and UTF-8
            ([109, 0, 0, 0, 1, 7], [77, 0, 0, 0, 1, 8, 7]),   // <<7>> as binary and bitstring
        ]
        for (first, second) in twins {
            var body: [UInt8] = [116] + be32(UInt32(pairs))
            for index in 0..<pairs - 2 { body += [98] + be32(UInt32(1_000 + index)) + [106] }
            body += first + [106] + second + [106]
            let bytes = [131] + body
            var expectedError: TermDecodingError?
            do { _ = try TermDecoder().decode(bytes) } catch { expectedError = error }
            var flatError: TermDecodingError?
            do { _ = try FlatTerm(decoding: bytes) } catch { flatError = error }
            #expect(expectedError != nil && flatError == expectedError, "\(pairs) pairs, \(first) and \(second): \(String(describing: expectedError)) vs \(String(describing: flatError))")
        }
    }

    /// A list whose list tail is appended after the nodes had to grow: the joined list's node
    /// must land in the moved room (it was written through the old pointer once; found by
    /// AddressSanitizer merging the fuzz corpus, whose inputs are kept in Fuzz/Corpora).
    @Test func joiningATailThatMovesTheNodes() throws {
        let count = 70_000
        let bytes: [UInt8] = [131, 108, 0, 0, 0, 1, 97, 1, 108] + be32(UInt32(count))
            + [UInt8]((0..<count).flatMap { _ in [97, 2] as [UInt8] }) + [106]
        let flat = try FlatTerm(decoding: bytes)
        #expect(flat.term == .list([.integer(1)] + Array(repeating: .integer(2), count: count)))
        for name in ["crash-224771f369f8eeb2826d1700520eb7b2340a31cc", "crash-42126843d2ab40885028227ef8cc00715f9409e9"] {
            let input = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            #expect(Self.disagreement(input) == nil, "\(name)")
        }
    }

    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Corpora/ErlangTermFuzz")

    /// Distinct keys that hash alike in a big map (maps and lists of the same length) are kept.
    @Test func bigMapOfLookalikeKeysDecodes() throws {
        var pairs: [Term: Term] = [:]
        for index in 0..<20 {
            pairs[.map([.integer(index): .integer(index)])] = .integer(index)
            pairs[.list([.integer(index), .integer(index + 1)])] = .integer(-index)
        }
        let term = Term.map(pairs)
        #expect(try FlatTerm(decoding: term.encoded()).term == term)
    }

    /// Headers that claim more elements than the input has bytes are refused before any room is
    /// made for them.
    @Test func lyingHeadersAreRefused() throws {
        let chain = [131] + [UInt8]((0..<2_000).flatMap { _ in [105, 0, 0x0F, 0x42, 0x40] as [UInt8] }) + [UInt8](repeating: 97, count: 1_000_000)
        #expect(throws: TermDecodingError.self) { try FlatTerm(decoding: chain) }
        #expect(throws: TermDecodingError.self) { try TermDecoder().decode(chain) }
    }

    @Test(arguments: DepthLimitTests.kinds)
    func depthLimitIsTheDecoders(_ kind: String) async throws {
        let level = try #require(DepthLimitTests.levels.first { $0.0 == kind })
        let decoder = TermDecoder(maxDepth: 10)
        for depth in [10, 11] {
            let bytes = [131] + DepthLimitTests.nest(level.open, level.close, depth: depth)
            #expect(Self.disagreement(bytes, decoder: decoder) == nil, "\(kind), \(depth) levels")
        }
        let bomb = [131] + DepthLimitTests.nest(level.open, level.close, depth: kind.hasPrefix("fun") ? 3_000 : 100_000)
        let outcome = try await onThread(stackSize: 8 << 20) { () -> String in
            do throws(TermDecodingError) {
                _ = try FlatTerm(decoding: bomb)
                return "decoded"
            } catch {
                return "\(error.kind)"
            }
        }
        #expect(outcome == "\(TermDecodingError.Kind.tooDeep(limit: 2_000))")
    }

    /// The elements read the term without building it.
    @Test func elementsReadInPlace() throws {
        let event = Term.tuple([
            .integer(1_796_471_406_180_913), .atom("warning"), .binary(Array("request failed".utf8)),
            .list([.tuple([.binary(Array("domain".utf8)), .binary(Array("[numbat]".utf8))])]),
            .map([.atom("memory_total"): .integer(15_530_008), .atom("ratio"): .float(0.25), .binary([1]): .string("ab")]),
            .improperList([.atom("a")], tail: .atom("b")),
            .pid(Pid(node: "n@h", id: 1, serial: 2, creation: 3)),
        ])
        let flat = try FlatTerm(decoding: event.encoded())
        let root = flat.root
        #expect(root.kind == .tuple && root.count == 7)
        #expect(root.element(0)?.integer == 1_796_471_406_180_913)
        #expect(root.element(1)?.isAtom("warning") == true && root.element(1)?.atomName == "warning")
        #expect(root.element(1)?.isAtom("warn") == false)
        // As an `Atom` through the thread's atom table, the same each time; nil for a non-atom.
        #expect(root.element(1)?.atom == Atom("warning") && root.element(1)?.atom == Atom("warning"))
        #expect(root.element(2)?.atom == nil)
        // Names past ASCII: read in place as UTF-8, or boxed from Latin-1; atoms either way.
        let utf8 = try FlatTerm(decoding: [131, 119, 2, 0xC3, 0xA9] /* SMALL_ATOM_UTF8_EXT: "é" */)
        #expect(utf8.root.atom == Atom("é"))
        let boxed = try FlatTerm(decoding: [131, 115, 1, 0xE9] /* SMALL_ATOM_EXT, Latin-1 'é' */)
        #expect(boxed.root.atom == Atom("é") && boxed.root.atomName == "é")
        // `isAtom` by bytes, in place and boxed; a binary of the same bytes is not the atom.
        #expect(utf8.root.isAtom("é") && boxed.root.isAtom("é") && !utf8.root.isAtom("e") && !utf8.root.isAtom("é!") && !boxed.root.isAtom(""))
        // Names of the same length that differ (a check of lengths alone would pass them).
        #expect(root.element(1)?.isAtom("warnin!") == false && root.element(1)?.isAtom("Warning") == false)
        #expect(!utf8.root.isAtom("ê") && !boxed.root.isAtom("ê"))
        #expect(try FlatTerm(decoding: Term.atom("").encoded()).root.isAtom(""))
        // Atoms by the distribution header's cache (ATOM_CACHE_REF), compared where the header
        // keeps them; a name built apart (another string) compares by its bytes.
        let cached = try FlatTerm(decodingTerm: [104, 3, 82, 0, 82, 1, 82, 0], from: 0, with: TermDecoder(atomCache: ["memory_total", "é"]))
        let elements = cached.root.elements
        #expect(elements.count == 3 && elements[0].isAtom("memory_total") && elements[1].isAtom("é") && elements[2].isAtom(String("memory_" + "total")))
        #expect(!elements[0].isAtom("memory_totaL") && !elements[0].isAtom("memory") && !elements[1].isAtom("e") && !elements[1].isAtom(""))
        cached.root.forEachPair { _, _ in Issue.record("a tuple is not a list of pairs") }
        #expect(root.element(2)?.isAtom("request failed") == false)
        #expect(root.element(2)?.bytes == Array("request failed".utf8))
        #expect(root.element(2)?.withBinary { $0.count } == 14)
        let meta = try #require(root.element(3))
        #expect(meta.kind == .list && meta.elements.count == 1)
        #expect(meta.element(0)?.element(1)?.bytes == Array("[numbat]".utf8))
        let map = try #require(root.element(4))
        #expect(map.kind == .map && map.count == 3)
        #expect(map.value(forAtom: "memory_total")?.integer == 15_530_008)
        #expect(map.value(forAtom: "ratio")?.double == 0.25)
        #expect(map.value(forAtom: "absent") == nil)
        let stringValue = try #require((0..<3).compactMap { map.pair($0) }.first { $0.key.kind == .binary }?.value)
        #expect(stringValue.kind == .list && stringValue.element(1)?.integer == 98)
        #expect(map.pair(3) == nil)
        let improper = try #require(root.element(5))
        #expect(improper.kind == .improperList && improper.tail?.isAtom("b") == true)
        #expect(root.element(6)?.kind == .other && root.element(6)?.term == event[element: 6])
        #expect(root.element(7) == nil && root.element(-1) == nil)
        #expect(root.term == event)
        // A Latin-1 string's elements are its bytes.
        let string = try FlatTerm(decoding: Term.string("AB").encoded()).root
        #expect(string.kind == .list && string.element(1)?.integer == 66 && string.count == 2)
    }
    /// `forEachPair` reads a list's two-tuples in place, passing over everything else, and
    /// reads names and numbers as `Element` does.
    @Test func pairsReadInPlace() throws {
        let big = BigInt(1) << 70
        let list = Term.list([
            .tuple([.atom("memory_total"), .integer(15_530_008)]),
            .tuple([.binary(Array("folsom.requests".utf8)), .float(0.25)]),
            .tuple([.string("charlist"), .integer(-3)]),
            .tuple([.atom("big"), .bigInteger(big)]),
            .tuple([.atom("not_a_number"), .atom("undefined")]),
            .tuple([.atom("three"), .integer(1), .integer(2)]),
            .atom("not_a_tuple"),
            .tuple([.binary([0xFF]), .integer(7)]),
        ])
        var read: [String] = []
        let flat = try FlatTerm(decoding: list.encoded())
        flat.root.forEachPair { name, value in
            read.append("\(name.kind) \(name.text ?? "nil") \(value.number.map { "\($0)" } ?? "nil") \(name.isAtom("memory_total")) \(name.term == .atom("big"))")
        }
        #expect(read == [
            "atom memory_total 15530008.0 true false",
            "binary folsom.requests 0.25 false false",
            "list charlist -3.0 false false",
            "atom big \(Double(big)) false true",
            "atom not_a_number nil false false",
            "binary nil 7.0 false false",
        ])
        // Boxed atoms (Latin-1 on the wire here; the atom cache's in distribution) compare alike.
        let boxed = try FlatTerm(decoding: [131, 108, 0, 0, 0, 1, 104, 2, 115, 1, 0xE9, 97, 5, 106] /* [{'é', 5}] */)
        var boxedRead: [String] = []
        boxed.root.forEachPair { name, value in
            boxedRead.append("\(name.text ?? "nil") \(name.isAtom("é")) \(name.isAtom("e")) \(value.number ?? 0)")
        }
        #expect(boxedRead == ["é true false 5.0"])
        // Not a list: nothing is called.
        var calls = 0
        try FlatTerm(decoding: Term.tuple([.atom("a"), .integer(1)]).encoded()).root.forEachPair { _, _ in calls += 1 }
        #expect(calls == 0)
    }
}
