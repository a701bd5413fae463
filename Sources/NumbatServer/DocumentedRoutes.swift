import Foundation
import Hummingbird
import NumbatCore
import NumbatServices

/// The methods each documented path answers, read from the API document (whose routes the
/// tests hold equal to the router's), so that a known path called with another method is a
/// 405 with an `Allow` header rather than the router's 404: the path exists, the method does not.
struct DocumentedRoutes: Sendable {
    static let shared = DocumentedRoutes(document: OpenAPIDocument.data)

    private let templates: [(segments: [String], methods: [String])]

    init(document: Data) {
        let paths = ((try? JSONSerialization.jsonObject(with: document)) as? [String: Any])?["paths"] as? [String: [String: Any]] ?? [:]
        let verbs = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        templates = paths.map { path, operations in
            (Self.segments(path), verbs.filter { operations[$0] != nil }.map { $0.uppercased() })
        }
    }

    /// The methods documented for `path`, or nil when no documented path matches it.
    func methods(for path: String) -> [String]? {
        let segments = Self.segments(path)
        let matching = templates.filter { template in
            template.segments.count == segments.count
                && zip(template.segments, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
        // As the router resolves: a literal segment wins over a parameter
        // (/api/alarms/thresholds over /api/alarms/{id}).
        let literal = { (segments: [String]) in segments.map { !$0.hasPrefix("{") } }
        let best = matching.max { literal($0.segments).lexicographicallyPrecedes(literal($1.segments)) { !$0 && $1 } }
        return best?.methods.sorted()
    }

    private static func segments(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    /// The 405 for `request` when its path is documented for other methods only: the usual
    /// error document, with the methods the path answers in `Allow`.
    func methodNotAllowed(_ request: Request, context: some RequestContext) throws -> Response? {
        guard let allowed = methods(for: request.uri.path), !allowed.contains(request.method.rawValue) else { return nil }
        let error = NumbatError(.badRequest, "method_not_allowed", "\(request.uri.path) answers \(allowed.joined(separator: ", ")), not \(request.method)")
        var response = try error.response(from: request, context: context)
        response.status = .methodNotAllowed
        response.headers[.allow] = allowed.joined(separator: ", ")
        return response
    }
}
