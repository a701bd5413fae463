import BigInt
import ErlangTerm
import Testing

/// `TermParser` reads the literal subset of Erlang, as `erl_scan` + `erl_parse:parse_term` do.
@Suite("Term parser")
struct TermParserTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let text: String
        let term: Term
        init(_ text: String, _ term: Term) {
            self.text = text
            self.term = term
        }
        var testDescription: String { text }
    }

    static let cases: [Case] = [
        Case("ok", .atom("ok")),
        Case("a@b_C9", .atom("a@b_C9")),
        Case("'hello world'", .atom("hello world")),
        Case("'it\\'s'", .atom("it's")),
        Case("'\\x{1F600}'", .atom("😀")),
        Case("'\\x41\\101\\s'", .atom("AA ")),
        Case("''", .atom("")),
        Case("42", 42),
        Case("-42", -42),
        Case("+7", 7),
        Case("1_000_000", 1_000_000),
        Case("16#FF", 255),
        Case("-16#ff", -255),
        Case("2#1010", 10),
        Case("36#zz", 1_295),
        Case("36#Zz", 1_295),
        Case("16#FFFFFFFFFFFFFFFFFFFF", .integer((BigInt(1) << 80) - 1)),
        Case("2#\(String(repeating: "1", count: 100))", .integer((BigInt(1) << 100) - 1)),
        Case("36#\(String(repeating: "z", count: 30))", .integer(BigInt(36).power(30) - 1)),
        Case("9223372036854775807", .integer(Int.max)),
        Case("9223372036854775808", .bigInteger(BigInt(1) << 63)),
        Case("-9223372036854775808", .integer(Int.min)),
        Case("123456789012345678901234567890", .integer(BigInt("123456789012345678901234567890"))),
        Case("1.5", 1.5),
        Case("-0.0", .float(-0.0)),
        Case("1.0e10", 1.0e10),
        Case("2.5E-3", 2.5e-3),
        Case("$a", 97),
        Case("$\\n", 10),
        Case("$\\^a", 1),
        Case("$\\^?", 127),
        Case("$ ", 32),
        Case("\"abc\"", .string("abc")),
        Case("\"a\" \"b\"", .string("ab")),
        Case("\"\"", .emptyList),
        Case("\"é日\"", .string("é日")),
        Case("<<>>", .binary([])),
        Case("<<1, 2, 3>>", .binary([1, 2, 3])),
        Case("<<\"abc\">>", "abc"),
        Case("<<\"é\">>", .binary([233])),
        Case("<<\"é\"/utf8>>", .binary([0xC3, 0xA9])),
        Case("<<\"a\", 1, \"b\">>", .binary([97, 1, 98])),
        Case("<<255,7:3>>", .makeBitstring([255, 0xE0], bitsInLastByte: 3)),
        Case("<<1:1>>", .makeBitstring([0x80], bitsInLastByte: 1)),
        Case("<<1:4, 2:4>>", .binary([0x12])),
        Case("<<258:16>>", .binary([1, 2])),
        Case("<<1:64>>", .binary([0, 0, 0, 0, 0, 0, 0, 1])),
        Case("{}", .tuple([])),
        Case("{a, {b, []}}", .tuple([.atom("a"), .tuple([.atom("b"), .emptyList])])),
        Case("[]", .emptyList),
        Case("[1, 2 | 3]", .list([1, 2], tail: 3)),
        Case("[a | [b]]", [.atom("a"), .atom("b")]),
        Case("[a | []]", [.atom("a")]),
        Case("#{}", .map([:])),
        Case("#{a => 1, \"k\" => [x]}", [.atom("a"): 1, .string("k"): [.atom("x")]]),
        Case("fun lists:map/2", .export(module: "lists", function: "map", arity: 2)),
        Case("fun 'a b':'C'/0", .export(module: "a b", function: "C", arity: 0)),
        Case("  % a comment\n {ok, % another\n 1} .  ", .tagged(.ok, 1)),
        Case("'\(String(repeating: "中", count: 255))'", .atom(Atom(String(repeating: "中", count: 255)))),
    ]

    @Test(arguments: cases)
    func parses(_ c: Case) throws {
        #expect(try TermParser.parse(c.text) == c.term)
    }

    static let errors: [(String, String, Int)] = [
        ("", "expected a term, found the end", 0),
        ("[1, 2", "expected ']'", 5),
        ("{a b}", "expected '}'", 3),
        ("#{a}", "expected '='", 3),
        ("<<256>>", "binary elements must be strings or integers that fit their size", 5),
        ("<<8:3>>", "binary elements must be strings or integers that fit their size", 5),
        ("<<1:65>>", "segment sizes must be 1 to 64 bits", 6),
        ("<<\"中\">>", "character above 255 in a binary needs /utf8", 5),
        ("<<\"a\"/latin1>>", "only /utf8 is supported in binaries", 12),
        ("1.0e400", "bad float", 0),
        ("'abc", "unterminated quoted text", 4),
        ("Foo", "unexpected 'F'", 0),
        ("fun m:f/256", "expected an arity from 0 to 255", 11),
        ("fun m:f", "expected '/'", 7),
        ("fun 1", "expected a module name after 'fun'", 5),
        ("ok ok", "unexpected text after the term", 3),
        ("16#", "bad base-16 digits", 3),
        ("1e5", "unexpected text after the term", 1),
        ("$", "expected a character after '$'", 1),
        ("\"\\x{110000}\"", "bad \\x escape", 11),
        ("\"\\^1\"", "bad \\^ escape", 4),
        ("'\(String(repeating: "x", count: 256))'", "atom longer than 255 characters", 258),
    ]

    @Test(arguments: errors)
    func rejects(_ text: String, _ message: String, _ position: Int) {
        let error = Self.error(parsing: text)
        #expect(error?.message == message)
        #expect(error?.position == position)
        #expect(error?.description == "cannot read Erlang term at character \(position): \(message)")
    }

    static func error(parsing text: String) -> TermParseError? {
        do throws(TermParseError) {
            _ = try TermParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func sequences() throws {
        #expect(try TermParser.parseSequence("1, a, \"s\"") == [1, .atom("a"), .string("s")])
        #expect(try TermParser.parseSequence("  ") == [])
        #expect(try TermParser.parseSequence("{a, b}.") == [.tuple([.atom("a"), .atom("b")])])
        #expect(throws: TermParseError.self) { try TermParser.parseSequence("1 2") }
    }

    /// Nesting is bounded, so hostile text cannot exhaust the stack.
    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: TermParseError.self) { try TermParser.parse(deep) }
    }
}
