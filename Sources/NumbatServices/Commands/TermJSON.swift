import ErlangTerm
import Foundation
import NumbatCore

/// The JSON form of Erlang terms, the same both ways (docs/commands.md has the table):
/// numbers are integers and floats, strings are UTF-8 binaries, arrays are lists, true and
/// false are the atoms, and every other term is an object with one tag: `{"atom": "ok"}`,
/// `{"tuple": [...]}`, `{"charlist": "text"}`, `{"map": [[key, value], ...]}`,
/// `{"integer": "digits"}` (beyond 64 bits), `{"binary_base64": "..."}` (bytes that are not
/// UTF-8), `{"improper_list": [...], "tail": term}`; pids, ports, references and funs come as
/// `{"pid": "<0.1.0>"}` and so on, readable but not accepted back (send those in Erlang syntax).
/// A JSON object that is not one of the tags is a map with binary keys.
enum TermJSON {
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// A JSON value (from JSONSerialization) as a term.
    static func term(from json: Any) throws -> Term {
        switch json {
        case let number as NSNumber:
            // JSONSerialization's numbers say what they were: "c" a boolean, "d" a fraction.
            switch String(cString: number.objCType) {
            case "c": return .atom(number.boolValue ? .true : .false)
            case "d", "f": return .float(number.doubleValue)
            default:
                if let parsed = try? TermParser.parse("\(number)"), parsed.intValue != nil || parsed.bigIntValue != nil { return parsed }
                return .float(number.doubleValue)
            }
        case let text as String:
            return .binary(Array(text.utf8))
        case let array as [Any]:
            return .list(try array.map(term(from:)))
        case is NSNull:
            return .atom(.undefined)
        case let object as [String: Any]:
            return try tagged(object)
        default:
            throw Invalid(description: "unsupported JSON value \(json)")
        }
    }

    private static func tagged(_ object: [String: Any]) throws -> Term {
        if object.count == 1, let (tag, value) = object.first {
            switch (tag, value) {
            case ("atom", let name as String):
                guard name.utf8.count <= 255 * 4, name.count <= Atom.maxLength else { throw Invalid(description: "an atom is at most 255 characters") }
                return .atom(Atom(name))
            case ("tuple", let elements as [Any]):
                return .tuple(try elements.map(term(from:)))
            case ("charlist", let text as String):
                return .list(text.unicodeScalars.map { .integer(Int($0.value)) })
            case ("integer", let digits as String):
                guard digits.allSatisfy({ $0.isNumber || $0 == "-" }), let parsed = try? TermParser.parse(digits),
                      parsed.intValue != nil || parsed.bigIntValue != nil else { throw Invalid(description: "\"integer\" needs decimal digits") }
                return parsed
            case ("binary_base64", let text as String):
                guard let data = Data(base64Encoded: text) else { throw Invalid(description: "\"binary_base64\" is not base64") }
                return .binary([UInt8](data))
            case ("map", let pairs as [Any]):
                var map: [Term: Term] = [:]
                for pair in pairs {
                    guard let kv = pair as? [Any], kv.count == 2 else { throw Invalid(description: "\"map\" is a list of [key, value] pairs") }
                    map[try term(from: kv[0])] = try term(from: kv[1])
                }
                return .map(map)
            default:
                break
            }
        }
        if object.count == 2, let elements = object["improper_list"] as? [Any], let tail = object["tail"] {
            return Term.improperList(try elements.map(term(from:)), tail: try term(from: tail))
        }
        var map: [Term: Term] = [:]
        for (key, value) in object { map[.binary(Array(key.utf8))] = try term(from: value) }
        return .map(map)
    }

    /// A term as JSON (for JSONSerialization).
    static func json(_ term: Term) -> Any {
        switch term {
        case .atom(let atom):
            if atom == .true { return true }
            if atom == .false { return false }
            return ["atom": atom.name]
        case .integer(let value): return value
        case .bigInteger: return ["integer": term.erlangDescription]
        case .float(let value): return value
        case .binary(let bytes):
            if let text = String(validating: bytes, as: UTF8.self) { return text }
            return ["binary_base64": Data(bytes).base64EncodedString()]
        case .bitstring: return ["bitstring": term.erlangDescription]
        case .tuple(let elements): return ["tuple": elements.map(json)]
        case .list(let elements):
            if !elements.isEmpty, let text = term.stringValue, text.unicodeScalars.allSatisfy({ $0.properties.isPrintable || $0 == "\n" || $0 == "\t" }) {
                return ["charlist": text]
            }
            return elements.map(json)
        case .improperList(let elements, let tail): return ["improper_list": elements.map(json), "tail": json(tail)]
        case .map(let map):
            return ["map": map.sorted { $0.key.erlangDescription < $1.key.erlangDescription }.map { [json($0.key), json($0.value)] }]
        case .pid: return ["pid": term.erlangDescription]
        case .port: return ["port": term.erlangDescription]
        case .reference: return ["ref": term.erlangDescription]
        case .export, .fun: return ["fun": term.erlangDescription]
        }
    }
}

extension Unicode.Scalar.Properties {
    /// Printable enough for a charlist to be shown as text.
    fileprivate var isPrintable: Bool {
        !(generalCategory == .control || generalCategory == .unassigned || generalCategory == .surrogate)
    }
}
