/// An error meant for the API's user: a stable code, a message that says what to do, and the kind
/// that picks the HTTP status. Services throw it; the server renders it as
/// `{"error": {"code": ..., "message": ...}}`.
public struct NumbatError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case badRequest, unauthorized, forbidden, notFound, conflict, unprocessable, payloadTooLarge, unavailable, timeout, internalError
    }

    public let kind: Kind
    /// Machine-readable, snake_case: `invalid_node_name`, `node_not_found`, ...
    public let code: String
    public let message: String

    public init(_ kind: Kind, _ code: String, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static func badRequest(_ code: String, _ message: String) -> Self { .init(.badRequest, code, message) }
    public static func notFound(_ code: String, _ message: String) -> Self { .init(.notFound, code, message) }
    public static func conflict(_ code: String, _ message: String) -> Self { .init(.conflict, code, message) }
}
