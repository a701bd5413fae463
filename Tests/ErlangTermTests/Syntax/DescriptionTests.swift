import BigInt
import ErlangTerm
import Testing

/// `erlangDescription`: Erlang syntax, quoted and escaped where Erlang needs it, with maps in a
/// stable order, and `#Pid<…>`-style forms for what has no literal syntax.
@Suite("Term description")
struct DescriptionTests {
    static let cases: [(Term, String)] = [
        (.atom("ok"), "ok"),
        (.atom("a@b_C9"), "a@b_C9"),
        (.atom("hello world"), "'hello world'"),
        (.atom("Capital"), "'Capital'"),
        (.atom("_under"), "'_under'"),
        (.atom(""), "''"),
        (.atom("end"), "'end'"),
        (.atom("maybe"), "'maybe'"),
        (.atom("it's"), "'it\\'s'"),
        (.atom("back\\slash"), "'back\\\\slash'"),
        (.atom("new\nline\ttab"), "'new\\nline\\ttab'"),
        (.atom("é"), "'é'"),
        (.atom("\u{0}\u{1B}\u{7F}"), "'\\x{0}\\e\\d'"),
        (42, "42"),
        (-42, "-42"),
        (.bigInteger(BigInt(1) << 64), "18446744073709551616"),
        (1.5, "1.5"),
        (100.0, "100.0"),
        (0.1, "0.1"),
        (.float(-0.0), "-0.0"),
        (1.0e16, "1.0e16"),
        (1.0e-5, "1.0e-5"),
        (.float(.leastNonzeroMagnitude), "5.0e-324"),
        (.float(.greatestFiniteMagnitude), "1.7976931348623157e308"),
        ("abc", "<<\"abc\">>"),
        (Term("é"), "<<\"é\"/utf8>>"),
        (Term("say \"hi\"\n"), "<<\"say \\\"hi\\\"\\n\">>"),
        (.binary([1, 2, 255]), "<<1,2,255>>"),
        (.binary([]), "<<>>"),
        (.makeBitstring([255, 0xE0], bitsInLastByte: 3), "<<255,7:3>>"),
        (.makeBitstring([0x80], bitsInLastByte: 1), "<<1:1>>"),
        (.string("abc"), "\"abc\""),
        (.string("é日"), "\"é日\""),
        (.string("a\nb"), "\"a\\nb\""),
        (.emptyList, "[]"),
        ([1, 2, 3], "[1,2,3]"),
        ([.atom("a"), 1], "[a,1]"),
        (.list([1], tail: 2), "[1|2]"),
        (.list([.atom("a"), .atom("b")], tail: .atom("c")), "[a,b|c]"),
        (.tuple([]), "{}"),
        (.tagged(.ok, [.atom("x")]), "{ok,[x]}"),
        (.map([:]), "#{}"),
        ([.atom("b"): 2, .atom("a"): 1, 3: .emptyList], "#{3 => [],a => 1,b => 2}"),
        (.pid(Pid(node: "a@b", id: 1, serial: 2, creation: 3)), "#Pid<a@b.1.2>"),
        (.port(Port(node: "a@b", id: 5, creation: 3)), "#Port<a@b.5>"),
        (.reference(Reference(node: "a@b", creation: 3, ids: [1, 2, 3])), "#Ref<a@b.1.2.3>"),
        (.export(module: "lists", function: "map", arity: 2), "fun lists:map/2"),
        (.export(module: "a b", function: "end", arity: 0), "fun 'a b':'end'/0"),
        (FunEncodingTests.closure, "#Fun<m.3>"),
    ]

    @Test(arguments: cases)
    func describes(_ term: Term, _ text: String) {
        #expect(term.erlangDescription == text)
        #expect(term.description == text)
    }

    /// What has literal syntax reads back as the same term.
    @Test(arguments: cases)
    func readsBack(_ term: Term, _ text: String) throws {
        guard term.hasLiteralSyntax() else { return }
        #expect(try TermParser.parse(text) == term)
    }

    /// Deeper than 1,000 levels is written `...`, so describing a hostile term is bounded.
    @Test func deepTermsAreCut() {
        var term = Term.emptyList
        for _ in 0..<1_500 { term = .tuple([term]) }
        let text = term.erlangDescription
        #expect(text.hasPrefix(String(repeating: "{", count: 1_000) + "...}"))
    }

    /// `abbreviatedDescription` stops writing soon after its limit, however large the term.
    @Test func abbreviatedDescriptions() {
        #expect(Term.tagged(.ok, 1).abbreviatedDescription() == "{ok,1}")
        let binary = Term.binary([UInt8](repeating: 7, count: 1 << 20)).abbreviatedDescription(limit: 20)
        #expect(binary.hasPrefix("<<7,7,7,") && binary.hasSuffix(",...>>") && binary.count < 40)
        let list = Term.list([Term](repeating: .atom("x"), count: 100_000)).abbreviatedDescription(limit: 20)
        #expect(list.hasSuffix(",...]") && list.count < 40)
        let huge = Term.integer(BigInt(1) << 100_000).abbreviatedDescription(limit: 20)
        #expect(huge == "...")
        let map = Term.map(Dictionary(uniqueKeysWithValues: (0..<1_000).map { (Term.integer($0), Term.atom("v")) }))
        #expect(map.abbreviatedDescription(limit: 30).count < 60)
    }
}
