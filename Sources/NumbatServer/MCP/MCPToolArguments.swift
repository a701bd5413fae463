import Foundation
import MCP
import NumbatCore

/// A tool call's arguments, read as the REST routes read their query parameters: each scalar
/// as the text a query string would carry, so the services' own parameter readers (the same
/// checks, the same errors) serve both. An argument the tool does not take is refused, as the
/// strict JSON bodies refuse unknown fields.
struct MCPToolArguments: Sendable {
    let values: [String: Value]

    init(_ values: [String: Value]?, allowed: Set<String>, tool: String) throws {
        self.values = values ?? [:]
        let unknown = self.values.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw NumbatError.badRequest("unknown_argument", "\(tool) takes no argument \(unknown.joined(separator: ", ")) (it takes \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    /// The argument as query-string text; nil when absent or null. Arrays and objects have no
    /// query-string form: they read as text the services refuse with their usual error.
    func text(_ name: String) -> String? {
        switch values[name] {
        case nil, .null?: nil
        case .string(let text)?: text
        case .int(let number)?: String(number)
        case .double(let number)?: String(number)
        case .bool(let flag)?: String(flag)
        case let other?: "\(other)"
        }
    }

    /// A required node id (`node`).
    func node() throws -> UUID {
        guard let text = text("node") else { throw NumbatError.badRequest("missing_argument", "node (a node id) is required") }
        guard let id = UUID(uuidString: text) else { throw NumbatError.badRequest("invalid_node", "node must be a node id") }
        return id
    }

    /// The arguments without `node`, as JSON for a typed body (`StrictJSON`).
    func body(without names: Set<String>) throws -> Data {
        try JSONEncoder().encode(values.filter { !names.contains($0.key) })
    }
}
