import ErlangTerm

/// What must hold for any input whatsoever; a violation traps, which libFuzzer reports as a crash.
///
/// - Decoding returns a term or throws a `TermDecodingError` (typed throws make anything else
///   impossible); it never traps, hangs or exhausts memory.
/// - `FlatTerm(decoding:)` accepts exactly the inputs `TermDecoder` accepts, with equal terms.
/// - A decoded term re-encodes (plain and compressed) to bytes that decode to an equal term.
/// - Its Erlang description can always be written, and, for terms with literal syntax,
///   `TermParser` reads it back as an equal term.
/// - Input that is not an encoded term but is UTF-8 text goes to `TermParser` too, which reads
///   user input: it returns a term (whose description reads back equal) or a `TermParseError`.
enum DecoderProperties {
    /// Small enough that a zlib bomb costs little per input, large enough for any fuzz input.
    static let decoder = TermDecoder(maxUncompressedSize: 16 << 20)

    /// Returns whether `bytes` decoded.
    @discardableResult
    static func check(_ bytes: [UInt8]) -> Bool {
        if bytes.first != 131, let text = String(validating: bytes, as: UTF8.self) {
            checkParser(text)
        }
        let term: Term
        let flat = Result { () throws(TermDecodingError) -> FlatTerm in try FlatTerm(decoding: bytes, with: decoder) }
        do {
            term = try decoder.decode(bytes)
        } catch {
            // The message must be writable for every error.
            precondition(!error.description.isEmpty)
            if case .success(let flat) = flat { preconditionFailure("FlatTerm decodes \(flat.term), TermDecoder refuses: \(error)") }
            return false
        }
        switch flat {
        case .success(let flat): precondition(flat.term == term, "FlatTerm decodes \(flat.term), TermDecoder \(term)")
        case .failure(let error): preconditionFailure("FlatTerm refuses \(term): \(error)")
        }
        expectRoundTrip(term, term.encoded(), "plain")
        if bytes.count > 1, bytes[1] == 80 {
            expectRoundTrip(term, term.encodedCompressed(), "compressed")
        }
        let text = term.erlangDescription
        if hasLiteralSyntax(term, depth: 0) {
            do {
                let parsed = try TermParser.parse(text)
                precondition(parsed == term, "description \(text) reads back as \(parsed)")
            } catch {
                preconditionFailure("description \(text) does not parse: \(error)")
            }
        }
        return true
    }

    static func checkParser(_ text: String) {
        guard let term = try? TermParser.parse(text), hasLiteralSyntax(term, depth: 0) else { return }
        let description = term.erlangDescription
        precondition((try? TermParser.parse(description)) == term, "\(text) reads as \(term), described as \(description)")
    }

    static func expectRoundTrip(_ term: Term, _ encoded: [UInt8], _ form: String) {
        do {
            let again = try decoder.decode(encoded)
            precondition(again == term, "\(form) re-encoding of \(term) decodes as \(again)")
        } catch {
            preconditionFailure("\(form) re-encoding of \(term) does not decode: \(error)")
        }
    }

    /// Whether `erlangDescription` writes `term` as Erlang source (no pids, ports, references
    /// or local funs), shallow enough for `TermParser`'s nesting limit.
    static func hasLiteralSyntax(_ term: Term, depth: Int) -> Bool {
        guard depth < 400 else { return false }
        switch term {
        case .atom, .integer, .bigInteger, .float, .binary, .bitstring, .export:
            return true
        case .pid, .port, .reference, .fun:
            return false
        case .tuple(let elements), .list(let elements):
            return elements.allSatisfy { hasLiteralSyntax($0, depth: depth + 1) }
        case .improperList(let elements, let tail):
            return elements.allSatisfy { hasLiteralSyntax($0, depth: depth + 1) } && hasLiteralSyntax(tail, depth: depth + 1)
        case .map(let pairs):
            return pairs.allSatisfy { hasLiteralSyntax($0.key, depth: depth + 1) && hasLiteralSyntax($0.value, depth: depth + 1) }
        }
    }
}
