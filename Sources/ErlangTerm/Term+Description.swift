/// Erlang syntax for any term, as `io:format("~p")` would write it, for logs, the CLI and the API.
///
/// Pids, ports, references and funs, which have no literal syntax, are written `#Pid<node.id.serial>`,
/// `#Port<node.id>`, `#Ref<node.w1.w2.w3>` and `#Fun<module.index>`, naming their node.
extension Term: CustomStringConvertible {
    public var description: String { erlangDescription }

    public var erlangDescription: String {
        var output = ""
        write(to: &output, depth: 0, limit: .max)
        return output
    }

    /// The description cut short with `...` once it passes about `limit` bytes, for messages
    /// that quote a term from untrusted input (a duplicate map key may be a 100 MB binary).
    /// The work done is bounded by `limit` too, except for sorting a map's keys.
    public func abbreviatedDescription(limit: Int = 100) -> String {
        var output = ""
        write(to: &output, depth: 0, limit: limit)
        return output
    }

    /// Deeper terms are written as `...`, so a hostile term cannot exhaust the stack.
    static let descriptionDepthLimit = 1_000

    /// Containers are written here and leaves by `writeLeaf`, out of line, so that the
    /// recursion over a deeply nested term costs little stack per level.
    private func write(to output: inout String, depth: Int, limit: Int) {
        guard depth < Self.descriptionDepthLimit, output.utf8.count <= limit else {
            output += "..."
            return
        }
        switch self {
        case .tuple(let elements):
            output += "{"
            Self.writeElements(elements, to: &output, depth: depth, limit: limit)
            output += "}"
        case .list(let elements):
            if elements.count <= limit, let text = Self.printableString(elements) {
                Self.writeQuoted(text, quote: "\"", to: &output)
            } else {
                output += "["
                Self.writeElements(elements, to: &output, depth: depth, limit: limit)
                output += "]"
            }
        case .improperList(let elements, let tail):
            output += "["
            Self.writeElements(elements, to: &output, depth: depth, limit: limit)
            output += "|"
            tail.write(to: &output, depth: depth + 1, limit: limit)
            output += "]"
        case .map(let pairs):
            Self.writeMap(pairs, to: &output, depth: depth, limit: limit)
        default:
            writeLeaf(to: &output, limit: limit)
        }
    }

    /// `#{K => V}` with the pairs sorted by the keys' text, so a map is always written the same.
    private static func writeMap(_ pairs: [Term: Term], to output: inout String, depth: Int, limit: Int) {
        output += "#{"
        // Keys are written at this depth too, so the depth limit also holds inside keys.
        let sorted = pairs.map { pair -> (String, Term) in
            var key = ""
            pair.key.write(to: &key, depth: depth + 1, limit: limit)
            return (key, pair.value)
        }.sorted { $0.0 < $1.0 }
        for (index, pair) in sorted.enumerated() {
            if index > 0 { output += "," }
            guard output.utf8.count <= limit else {
                output += "..."
                break
            }
            output += pair.0
            output += " => "
            pair.1.write(to: &output, depth: depth + 1, limit: limit)
        }
        output += "}"
    }

    @inline(never)
    private func writeLeaf(to output: inout String, limit: Int) {
        switch self {
        case .atom(let atom):
            Self.writeAtom(atom.name, to: &output)
        case .integer(let value):
            output += String(value)
        case .bigInteger(let value):
            // Converting to decimal takes quadratic time: not for a number that would be cut.
            if limit < .max, value.magnitude.bitWidth / 4 > limit {
                output += "..."
            } else {
                output += String(value)
            }
        case .float(let value):
            output += Self.formatFloat(value)
        case .binary(let bytes):
            Self.writeBinary(bytes, bits: 8, to: &output, limit: limit)
        case .bitstring(let bytes, let bits):
            Self.writeBinary(bytes, bits: bits, to: &output, limit: limit)
        case .pid(let pid):
            output += "#Pid<\(pid.node.name).\(pid.id).\(pid.serial)>"
        case .port(let port):
            output += "#Port<\(port.node.name).\(port.id)>"
        case .reference(let ref):
            output += "#Ref<\(ref.node.name)." + ref.ids.map(String.init).joined(separator: ".") + ">"
        case .export(let module, let function, let arity):
            output += "fun "
            Self.writeAtom(module.name, to: &output)
            output += ":"
            Self.writeAtom(function.name, to: &output)
            output += "/\(arity)"
        case .fun(let fun):
            output += "#Fun<\(fun.module.name).\(fun.index)>"
        case .tuple, .list, .improperList, .map:
            preconditionFailure("write(to:depth:limit:) writes containers")
        }
    }

    private static func writeElements(_ elements: [Term], to output: inout String, depth: Int, limit: Int) {
        for (index, element) in elements.enumerated() {
            if index > 0 { output += "," }
            guard output.utf8.count <= limit else {
                output += "..."
                return
            }
            element.write(to: &output, depth: depth + 1, limit: limit)
        }
    }

    static let reservedWords: Set<String> = [
        "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case", "catch",
        "cond", "div", "else", "end", "fun", "if", "let", "maybe", "not", "of", "or", "orelse", "receive",
        "rem", "try", "when", "xor",
    ]

    static func writeAtom(_ name: String, to output: inout String) {
        if atomNeedsQuotes(name) {
            writeQuoted(name, quote: "'", to: &output)
        } else {
            output += name
        }
    }

    static func atomNeedsQuotes(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return true }
        for scalar in name.unicodeScalars {
            let ok = ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "@"
            if !ok { return true }
        }
        return reservedWords.contains(name)
    }

    static func writeQuoted(_ text: String, quote: Character, to output: inout String) {
        output.append(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\t": output += "\\t"
            case "\r": output += "\\r"
            case "\u{1B}": output += "\\e"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case "\u{0B}": output += "\\v"
            case "\u{7F}": output += "\\d"
            default:
                if Character(scalar) == quote {
                    output += "\\"
                    output.unicodeScalars.append(scalar)
                } else if scalar.value < 0x20 {
                    output += "\\x{\(String(scalar.value, radix: 16, uppercase: true))}"
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output.append(quote)
    }

    /// Text if the code points are all printable, as `~p` decides for charlists.
    static func printableString(_ elements: [Term]) -> String? {
        guard !elements.isEmpty else { return nil }
        var scalars = String.UnicodeScalarView()
        for element in elements {
            guard case .integer(let code) = element, isPrintable(code),
                let scalar = Unicode.Scalar(UInt32(code))
            else { return nil }
            scalars.append(scalar)
        }
        return String(scalars)
    }

    static func isPrintable(_ code: Int) -> Bool {
        switch code {
        case 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        case 0x07...0x0D, 0x1B: return true
        default: return false
        }
    }

    private static func writeBinary(_ bytes: [UInt8], bits: UInt8, to output: inout String, limit: Int) {
        if bits == 8, !bytes.isEmpty, bytes.count <= limit, let text = String(validating: bytes, as: UTF8.self),
            text.unicodeScalars.allSatisfy({ isPrintable(Int($0.value)) })
        {
            output += "<<"
            writeQuoted(text, quote: "\"", to: &output)
            // Without `/utf8` Erlang reads each character of a binary string as one byte.
            if text.unicodeScalars.contains(where: { $0.value > 0x7F }) { output += "/utf8" }
            output += ">>"
            return
        }
        output += "<<"
        for (index, byte) in bytes.enumerated() {
            if index > 0 { output += "," }
            guard output.utf8.count <= limit else {
                output += "..."
                break
            }
            if index == bytes.count - 1, bits < 8 {
                output += "\(byte >> (8 - bits)):\(bits)"
            } else {
                output += String(byte)
            }
        }
        output += ">>"
    }

    static func formatFloat(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var text = "\(value)"
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var mantissa = String(text[..<e])
            var exponent = String(text[text.index(after: e)...])
            if !mantissa.contains(".") { mantissa += ".0" }
            if exponent.hasPrefix("+") { exponent.removeFirst() }
            let negative = exponent.hasPrefix("-")
            if negative { exponent.removeFirst() }
            while exponent.count > 1, exponent.hasPrefix("0") { exponent.removeFirst() }
            text = mantissa + "e" + (negative ? "-" : "") + exponent
        } else if !text.contains(".") {
            text += ".0"
        }
        return text
    }
}
