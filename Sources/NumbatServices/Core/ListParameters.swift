import Foundation
import NumbatCore

/// The query parameters list endpoints share (node, family, before, limit, and named choices),
/// read with the same rules and the same 400s everywhere.
struct ListParameters {
    let parameter: (String) -> String?

    /// `node` and `family` (its members), intersected when both are given; nil for all nodes.
    func nodes(in store: any NodeReader) async throws -> [UUID]? {
        var nodes: [UUID]?
        if let text = parameter("node") {
            guard let id = UUID(uuidString: text) else { throw NumbatError.badRequest("invalid_node", "node must be a node id") }
            nodes = [id]
        }
        if let text = parameter("family") {
            guard let id = UUID(uuidString: text) else { throw NumbatError.badRequest("invalid_family", "family must be a family id") }
            let members = try await store.nodes().filter { $0.familyID == id }.map(\.id)
            nodes = (nodes.map { Set($0).intersection(members) }.map(Array.init)) ?? members
        }
        return nodes
    }

    /// `before`: the cursor, an id from the previous page's `next`.
    func cursor(of what: String) throws -> Int64? {
        guard let text = parameter("before") else { return nil }
        guard let before = Int64(text) else { throw NumbatError.badRequest("invalid_cursor", "before must be \(what) id") }
        return before
    }

    /// `limit`, 1...1000.
    func limit() throws -> Int? {
        guard let text = parameter("limit") else { return nil }
        guard let limit = Int(text), (1...1000).contains(limit) else {
            throw NumbatError.badRequest("invalid_limit", "limit must be between 1 and 1000")
        }
        return limit
    }

    /// A parameter that names one case of `T`.
    func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type) throws -> T? where T.RawValue == String {
        guard let text = parameter(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw NumbatError.badRequest("invalid_\(name)", "\(name) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}
