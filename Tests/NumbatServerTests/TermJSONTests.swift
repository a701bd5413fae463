import ErlangTerm
import Foundation
@testable import NumbatServices
import Testing

/// The JSON form of terms (docs/commands.md), both ways, on JSON as JSONSerialization reads it.
@Suite("JSON terms")
struct TermJSONTests {
    static func term(_ json: String) throws -> Term {
        try TermJSON.term(from: try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]))
    }

    @Test("each JSON form reads as its term")
    func reading() throws {
        #expect(try Self.term("[true, false, null, 1, 2.0, 2.5]") == .list([.atom(.true), .atom(.false), .atom(.undefined), .integer(1), .float(2), .float(2.5)]))
        #expect(try Self.term(#""text""#) == .binary(Array("text".utf8)))
        #expect(try Self.term(#"{"atom": "ok"}"#) == .atom("ok"))
        #expect(try Self.term(#"{"tuple": [1, {"charlist": "ab"}]}"#) == .tuple([.integer(1), .list([.integer(97), .integer(98)])]))
        #expect(try Self.term(#"{"integer": "1267650600228229401496703205376"}"#) == (try TermParser.parse("1267650600228229401496703205376")))
        #expect(try Self.term(#"{"binary_base64": "/wA="}"#) == .binary([255, 0]))
        #expect(try Self.term(#"{"improper_list": [1], "tail": 2}"#) == .improperList([.integer(1)], tail: .integer(2)))
        #expect(try Self.term(#"{"map": [[{"atom": "k"}, 1]]}"#) == .map([.atom("k"): .integer(1)]))
        #expect(try Self.term(#"{"k": 1}"#) == .map([.binary(Array("k".utf8)): .integer(1)]))
    }

    @Test("what cannot be a term is refused, not guessed")
    func refusals() {
        for bad in [#"{"integer": "12a"}"#, #"{"binary_base64": "%%%"}"#, #"{"map": [[1]]}"#, #"{"atom": "\#(String(repeating: "a", count: 256))"}"#] {
            #expect(throws: TermJSON.Invalid.self, "\(bad)") { try Self.term(bad) }
        }
    }

    @Test("terms write back to the same JSON, and every term has a readable form")
    func roundTrip() throws {
        let term: Term = .tuple([.atom("ok"), .atom(.true), .binary([255]), .binary(Array("é".utf8)), .list([.integer(104), .integer(105)]),
                                 .improperList([.integer(1)], tail: .integer(2)), .map([.atom("k"): .float(1.5)]), try TermParser.parse("1180591620717411303424")])
        let json = try JSONSerialization.data(withJSONObject: TermJSON.json(term))
        #expect(try TermJSON.term(from: try JSONSerialization.jsonObject(with: json)) == term)
        let pid: Term = .pid(Pid(node: "a@h", id: 85, serial: 0, creation: 1))
        #expect((TermJSON.json(pid) as? [String: String])?["pid"]?.contains("85") == true)
    }
}
