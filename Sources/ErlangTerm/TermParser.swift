import BigInt

/// Why Erlang-syntax text could not be read as a term.
public struct TermParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    /// Character offset in the input.
    public let position: Int

    public var description: String { "cannot read Erlang term at character \(position): \(message)" }
}

/// Reads terms written in Erlang syntax: atoms (bare and quoted), integers (any size, `Base#Digits`),
/// floats, `$c` characters, "strings" (charlists), `<<"binaries">>`, `<<1,2,3>>` and bitstrings
/// `<<255,7:3>>`, tuples, lists (also improper, `[H|T]`), maps `#{K => V}` and external funs
/// `fun M:F/A`: everything `erlangDescription` writes except pids, ports, references and local
/// funs. A trailing `.` is allowed.
///
/// Used for rpc arguments typed by a user, so it accepts the literal subset of Erlang only:
/// no variables, operators or function calls.
public struct TermParser {
    private let scalars: [Unicode.Scalar]
    private var position = 0

    private init(_ text: String) { scalars = Array(text.unicodeScalars) }

    /// Parses exactly one term.
    public static func parse(_ text: String) throws(TermParseError) -> Term {
        var parser = TermParser(text)
        let term = try parser.parseTerm(depth: 0)
        parser.skipSpace()
        if parser.peek == "." { parser.position += 1; parser.skipSpace() }
        guard parser.position == parser.scalars.count else { throw parser.error("unexpected text after the term") }
        return term
    }

    /// Parses a comma-separated sequence of terms, as in a function's argument list.
    public static func parseSequence(_ text: String) throws(TermParseError) -> [Term] {
        var parser = TermParser(text)
        parser.skipSpace()
        if parser.position == parser.scalars.count { return [] }
        var terms: [Term] = []
        while true {
            terms.append(try parser.parseTerm(depth: 0))
            parser.skipSpace()
            guard parser.peek == "," else { break }
            parser.position += 1
        }
        if parser.peek == "." { parser.position += 1; parser.skipSpace() }
        guard parser.position == parser.scalars.count else { throw parser.error("expected ',' or the end") }
        return terms
    }

    private var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private func error(_ message: String) -> TermParseError { TermParseError(message: message, position: position) }

    private mutating func skipSpace() {
        while let scalar = peek {
            if scalar.properties.isWhitespace {
                position += 1
            } else if scalar == "%" {
                while let c = peek, c != "\n" { position += 1; _ = c }
            } else {
                return
            }
        }
    }

    private mutating func expect(_ scalar: Unicode.Scalar) throws(TermParseError) {
        skipSpace()
        guard peek == scalar else { throw error("expected '\(scalar)'") }
        position += 1
    }

    private mutating func parseTerm(depth: Int) throws(TermParseError) -> Term {
        guard depth < 500 else { throw error("nested too deeply") }
        skipSpace()
        guard let scalar = peek else { throw error("expected a term, found the end") }
        switch scalar {
        case "{":
            position += 1
            return .tuple(try parseElements(until: "}", depth: depth))
        case "[":
            position += 1
            return try parseList(depth: depth)
        case "#":
            position += 1
            try expect("{")
            return try parseMap(depth: depth)
        case "<":
            position += 1
            guard peek == "<" else { throw error("expected '<<'") }
            position += 1
            return try parseBinary()
        case "\"":
            return .list(try parseStrings().map { .integer(Int($0.value)) })
        case "'":
            position += 1
            // Two statements: `atom(_:)` would see `self` as it was before the argument was read.
            let name = String(String.UnicodeScalarView(try parseQuoted(until: "'")))
            return .atom(try atom(name))
        case "$":
            position += 1
            return .integer(Int(try parseCharacter().value))
        case "-", "+", "0"..."9":
            return try parseNumber()
        default:
            guard ("a"..."z").contains(scalar) else { throw error("unexpected '\(scalar)'") }
            let word = parseBareWord()
            // `fun` is a reserved word: as an atom it is written 'fun'.
            if word == "fun" { return try parseExport(depth: depth) }
            return .atom(try atom(word))
        }
    }

    /// An atom named `name`, which Erlang's scanner rejects as too long past 255 characters.
    private func atom(_ name: String) throws(TermParseError) -> Atom {
        guard name.unicodeScalars.count <= Atom.maxLength else { throw error("atom longer than 255 characters") }
        return Atom(name)
    }

    /// `fun Module:Function/Arity` after the `fun`.
    private mutating func parseExport(depth: Int) throws(TermParseError) -> Term {
        guard case .atom(let module) = try parseTerm(depth: depth + 1) else { throw error("expected a module name after 'fun'") }
        try expect(":")
        guard case .atom(let function) = try parseTerm(depth: depth + 1) else { throw error("expected a function name") }
        try expect("/")
        guard case .integer(let arity) = try parseNumber(), (0...255).contains(arity) else {
            throw error("expected an arity from 0 to 255")
        }
        return .export(module: module, function: function, arity: arity)
    }

    private mutating func parseElements(until close: Unicode.Scalar, depth: Int) throws(TermParseError) -> [Term] {
        var elements: [Term] = []
        skipSpace()
        if peek == close { position += 1; return elements }
        while true {
            elements.append(try parseTerm(depth: depth + 1))
            skipSpace()
            if peek == "," { position += 1; continue }
            try expect(close)
            return elements
        }
    }

    private mutating func parseList(depth: Int) throws(TermParseError) -> Term {
        var elements: [Term] = []
        skipSpace()
        if peek == "]" { position += 1; return .list([]) }
        while true {
            elements.append(try parseTerm(depth: depth + 1))
            skipSpace()
            switch peek {
            case ",": position += 1
            case "|":
                position += 1
                let tail = try parseTerm(depth: depth + 1)
                try expect("]")
                return .list(elements, tail: tail)
            default:
                try expect("]")
                return .list(elements)
            }
        }
    }

    private mutating func parseMap(depth: Int) throws(TermParseError) -> Term {
        var pairs: [Term: Term] = [:]
        skipSpace()
        if peek == "}" { position += 1; return .map(pairs) }
        while true {
            let key = try parseTerm(depth: depth + 1)
            try expect("=")
            guard peek == ">" else { throw error("expected '=>'") }
            position += 1
            pairs[key] = try parseTerm(depth: depth + 1)
            skipSpace()
            if peek == "," { position += 1; continue }
            try expect("}")
            return .map(pairs)
        }
    }

    /// `<<...>>` after the `<<`: strings (`"é"` is one byte per character, as in Erlang, unless
    /// written `"é"/utf8`) and integers, 8 bits each unless sized, as in `<<255,7:3>>`.
    private mutating func parseBinary() throws(TermParseError) -> Term {
        var bits = BitWriter()
        skipSpace()
        if peek == ">" {
            try expect(">"); try expect(">")
            return .binary([])
        }
        while true {
            skipSpace()
            if peek == "\"" {
                let scalars = try parseStrings()
                skipSpace()
                if peek == "/" {
                    position += 1
                    let kind = parseBareWord()
                    guard kind == "utf8" else { throw error("only /utf8 is supported in binaries") }
                    for byte in String(String.UnicodeScalarView(scalars)).utf8 { bits.append(UInt64(byte), bits: 8) }
                } else {
                    // Erlang would silently truncate characters above 255, so those need `/utf8`.
                    for scalar in scalars {
                        guard scalar.value <= 0xFF else { throw error("character above 255 in a binary needs /utf8") }
                        bits.append(UInt64(scalar.value), bits: 8)
                    }
                }
            } else {
                let value = try parseNumber()
                skipSpace()
                var size = 8
                if peek == ":" {
                    position += 1
                    skipSpace()
                    guard case .integer(let explicit) = try parseNumber(), (1...64).contains(explicit) else {
                        throw error("segment sizes must be 1 to 64 bits")
                    }
                    size = explicit
                }
                // Erlang would keep only the low bits of a value too large for its segment.
                guard case .integer(let integer) = value, integer >= 0, size == 64 || integer >> size == 0 else {
                    throw error("binary elements must be strings or integers that fit their size")
                }
                bits.append(UInt64(integer), bits: size)
            }
            skipSpace()
            if peek == "," { position += 1; continue }
            try expect(">"); try expect(">")
            return bits.term
        }
    }

    private mutating func parseStrings() throws(TermParseError) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        repeat {
            position += 1
            result += try parseQuoted(until: "\"")
            skipSpace()
        } while peek == "\""
        return result
    }

    private mutating func parseQuoted(until quote: Unicode.Scalar) throws(TermParseError) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        while true {
            guard let scalar = peek else { throw error("unterminated quoted text") }
            position += 1
            if scalar == quote { return result }
            if scalar == "\\" {
                result.append(try parseEscape())
            } else {
                result.append(scalar)
            }
        }
    }

    private mutating func parseCharacter() throws(TermParseError) -> Unicode.Scalar {
        guard let scalar = peek else { throw error("expected a character after '$'") }
        position += 1
        return scalar == "\\" ? try parseEscape() : scalar
    }

    private mutating func parseEscape() throws(TermParseError) -> Unicode.Scalar {
        guard let scalar = peek else { throw error("unterminated escape") }
        position += 1
        switch scalar {
        case "n": return "\n"
        case "t": return "\t"
        case "r": return "\r"
        case "e": return "\u{1B}"
        case "b": return "\u{08}"
        case "f": return "\u{0C}"
        case "v": return "\u{0B}"
        case "d": return "\u{7F}"
        case "s": return " "
        case "^":
            // Control characters as erl_scan reads them: `\^A` or `\^a` is 1, `\^?` is DEL.
            guard let c = peek else { throw error("unterminated \\^ escape") }
            position += 1
            if c == "?" { return "\u{7F}" }
            guard ("@"..."_").contains(c) || ("a"..."z").contains(c) else { throw error("bad \\^ escape") }
            return Unicode.Scalar(UInt8(c.value & 0x1F))
        case "x":
            var digits = ""
            if peek == "{" {
                position += 1
                while let c = peek, c != "}" { digits.unicodeScalars.append(c); position += 1 }
                guard peek == "}" else { throw error("unterminated \\x{ escape") }
                position += 1
            } else {
                for _ in 0..<2 { if let c = peek { digits.unicodeScalars.append(c); position += 1 } }
            }
            guard let code = UInt32(digits, radix: 16), let result = Unicode.Scalar(code) else {
                throw error("bad \\x escape")
            }
            return result
        case "0"..."7":
            var code = scalar.value - 48
            for _ in 0..<2 {
                guard let c = peek, ("0"..."7").contains(c) else { break }
                code = code * 8 + c.value - 48
                position += 1
            }
            return Unicode.Scalar(code)!
        default:
            return scalar
        }
    }

    private mutating func parseBareWord() -> String {
        var word = String.UnicodeScalarView()
        while let c = peek, ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "@" {
            word.append(c)
            position += 1
        }
        return String(word)
    }

    /// `digits` in `base` (2...36). Not `BigInt(_:radix:)`, which traps on radix 36.
    static func integer(_ digits: String, base: Int) -> BigInt? {
        guard !digits.isEmpty else { return nil }
        var value = BigInt(0)
        var chunk = 0
        var chunkScale = 1
        for scalar in digits.unicodeScalars {
            let digit: Int
            switch scalar {
            case "0"..."9": digit = Int(scalar.value) - 48
            case "a"..."z": digit = Int(scalar.value) - 87
            case "A"..."Z": digit = Int(scalar.value) - 55
            default: return nil
            }
            guard digit < base else { return nil }
            // Whole chunks of digits that fit in an `Int` at a time, so long numbers stay cheap.
            chunk = chunk * base + digit
            chunkScale *= base
            if chunkScale > Int.max / 36 / 36 {
                value = value * BigInt(chunkScale) + BigInt(chunk)
                chunk = 0
                chunkScale = 1
            }
        }
        return value * BigInt(chunkScale) + BigInt(chunk)
    }

    private mutating func parseNumber() throws(TermParseError) -> Term {
        skipSpace()
        let start = position
        var negative = false
        if peek == "-" || peek == "+" {
            negative = peek == "-"
            position += 1
        }
        // Most numbers (every element of a described binary) fit in an `Int`: accumulate
        // them directly, and keep the text only for the rest.
        var digits = ""
        var small = 0
        var fits = true
        while let c = peek, ("0"..."9").contains(c) || c == "_" {
            if c != "_" {
                digits.unicodeScalars.append(c)
                let (times10, overflow1) = small.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int(c.value - 48))
                fits = fits && !overflow1 && !overflow2
                small = sum
            }
            position += 1
        }
        guard !digits.isEmpty else { throw error("expected a number") }
        if peek == "#" {
            position += 1
            guard let base = Int(digits), (2...36).contains(base) else { throw error("bad number base \(digits)") }
            var body = ""
            while let c = peek, c.properties.isAlphabetic || ("0"..."9").contains(c) {
                body.unicodeScalars.append(c)
                position += 1
            }
            guard let value = Self.integer(body, base: base) else { throw error("bad base-\(base) digits") }
            return .integer(negative ? -value : value)
        }
        if peek == ".", position + 1 < scalars.count, ("0"..."9").contains(scalars[position + 1]) {
            position += 1
            var text = digits + "."
            while let c = peek, ("0"..."9").contains(c) { text.unicodeScalars.append(c); position += 1 }
            if peek == "e" || peek == "E" {
                text += "e"
                position += 1
                if peek == "-" || peek == "+" { text.unicodeScalars.append(peek!); position += 1 }
                while let c = peek, ("0"..."9").contains(c) { text.unicodeScalars.append(c); position += 1 }
            }
            guard let value = Double(text), value.isFinite else { throw TermParseError(message: "bad float", position: start) }
            return .float(negative ? -value : value)
        }
        if fits { return .integer(negative ? -small : small) }
        guard let value = BigInt(digits) else { throw TermParseError(message: "bad integer", position: start) }
        return .integer(negative ? -value : value)
    }
}
