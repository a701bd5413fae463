/// A small XML reader for cloud API responses: elements, text and entities, nothing more
/// (attributes, namespaces and processing instructions are skipped). Pure and total: damaged
/// input gives a clear error, never a crash.
public struct XMLNode: Sendable, Equatable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public var name: String
    public var text: String
    public var children: [XMLNode]

    /// The first child named `name`.
    public subscript(_ name: String) -> XMLNode? { children.first { $0.name == name } }

    /// Children named `name`.
    public func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }

    /// The text at a path of child names, e.g. `value("instanceState", "name")`.
    public func value(_ path: String...) -> String? {
        var node = self
        for name in path {
            guard let next = node[name] else { return nil }
            node = next
        }
        return node.text
    }

    public static func parse(_ text: String) throws -> XMLNode {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func document() throws -> XMLNode {
            while true {
                skipWhitespace()
                if starts(with: "<?") { try skip(past: "?>") }
                else if starts(with: "<!--") { try skip(past: "-->") }
                else if starts(with: "<!") { try skip(past: ">") }
                else { break }
            }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "<") else { throw Failure(description: "the response is not XML") }
            return try element(depth: 0)
        }

        mutating func element(depth: Int) throws -> XMLNode {
            guard depth < 64 else { throw Failure(description: "XML nested deeper than 64 elements") }
            index += 1 // <
            let name = localName(readName())
            var selfClosing = false
            while index < bytes.count, bytes[index] != UInt8(ascii: ">") {
                if bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") {
                    let quote = bytes[index]
                    index += 1
                    while index < bytes.count, bytes[index] != quote { index += 1 }
                }
                if bytes[index...].starts(with: [UInt8(ascii: "/"), UInt8(ascii: ">")]) { selfClosing = true }
                index += 1
            }
            guard index < bytes.count else { throw Failure(description: "XML ends inside <\(name)>") }
            index += 1
            var node = XMLNode(name: name, text: "", children: [])
            if selfClosing { return node }
            var text: [UInt8] = []
            while index < bytes.count {
                if starts(with: "</") {
                    try skip(past: ">")
                    node.text = decode(text)
                    return node
                } else if starts(with: "<!--") {
                    try skip(past: "-->")
                } else if starts(with: "<![CDATA[") {
                    index += 9
                    let start = index
                    try skip(past: "]]>")
                    text += bytes[start..<(index - 3)]
                } else if bytes[index] == UInt8(ascii: "<") {
                    node.children.append(try element(depth: depth + 1))
                } else {
                    text.append(bytes[index])
                    index += 1
                }
            }
            throw Failure(description: "XML ends inside <\(name)>")
        }

        mutating func readName() -> String {
            let start = index
            while index < bytes.count, !" \t\r\n/>".utf8.contains(bytes[index]) { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        func localName(_ name: String) -> String {
            name.split(separator: ":").last.map(String.init) ?? name
        }

        func starts(with prefix: String) -> Bool { bytes[index...].starts(with: prefix.utf8) }

        mutating func skip(past terminator: String) throws {
            let marker = Array(terminator.utf8)
            while index < bytes.count {
                if bytes[index...].starts(with: marker) {
                    index += marker.count
                    return
                }
                index += 1
            }
            throw Failure(description: "XML ends before \(terminator)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count, " \t\r\n".utf8.contains(bytes[index]) { index += 1 }
        }

        func decode(_ raw: [UInt8]) -> String {
            let text = String(decoding: raw, as: UTF8.self)
            guard text.contains("&") else { return text.trimmed }
            var out = ""
            var rest = Substring(text)
            while let amp = rest.firstIndex(of: "&") {
                out += rest[..<amp]
                guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                    out += "&"
                    rest = rest[rest.index(after: amp)...]
                    continue
                }
                let entity = rest[rest.index(after: amp)..<semi]
                switch entity {
                case "amp": out += "&"
                case "lt": out += "<"
                case "gt": out += ">"
                case "quot": out += "\""
                case "apos": out += "'"
                default:
                    let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                    if let number, let scalar = Unicode.Scalar(number) { out.unicodeScalars.append(scalar) } else { out += "&\(entity);" }
                }
                rest = rest[rest.index(after: semi)...]
            }
            return (out + rest).trimmed
        }
    }
}

private extension String {
    var trimmed: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !" \t\r\n".unicodeScalars.contains($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !" \t\r\n".unicodeScalars.contains($0) })!
        return String(scalars[first...last])
    }
}
