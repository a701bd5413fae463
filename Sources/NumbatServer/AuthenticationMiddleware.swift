import Foundation
import Hummingbird
import NIOCore
import NumbatCore
import NumbatServices

/// Sets the caller's `Identity` from a bearer token (`Authorization: Bearer nbt_...`, or
/// `?token=` on the WebSocket, which browsers cannot give headers). Without a token, only
/// loopback callers of a loopback-only server get in. Writes need an admin token.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = NumbatRequestContext

    let tokens: any TokenStore
    let allowLoopbackWithoutToken: Bool
    /// Paths anyone may read: no secrets there.
    static let publicPaths: Set<String> = ["/api/health", "/api/openapi.json"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let secret = Self.bearerToken(request) {
            guard let token = try await tokens.token(secretHash: APIToken.hash(secret)) else {
                throw NumbatError(.unauthorized, "invalid_token", "the API token is not valid (revoked or mistyped)")
            }
            context.identity = Identity(name: token.name, role: token.role, tokenID: token.id)
            try? await tokens.touchToken(id: token.id, at: Date())
        } else if allowLoopbackWithoutToken, Self.isLoopback(context.remoteAddress) {
            context.identity = Identity(name: "loopback", role: .admin)
        } else if Self.isPublic(request.uri.path), request.method == .get {
            context.identity = Identity(name: "anonymous", role: .viewer)
        } else {
            throw NumbatError(.unauthorized, "token_required", "an API token is required: send Authorization: Bearer <token>")
        }
        // MCP carries reads and writes alike in POSTs; its tools check the role themselves.
        if request.method != .get, request.method != .head, context.identity?.role != .admin, request.uri.path != MCPEndpoint.path {
            throw NumbatError(.forbidden, "forbidden", "\(request.method) needs an admin token")
        }
        return try await next(request, context)
    }

    /// The health check, the API document and the dashboard's own files (its data comes from
    /// the API, with a token).
    static func isPublic(_ path: String) -> Bool {
        publicPaths.contains(path) || path == "/" || path == "/dashboard" || path.hasPrefix("/dashboard/")
    }

    static func bearerToken(_ request: Request) -> String? {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        return request.uri.queryParameters["token"].map(String.init)
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .v4(let v4)?: return (UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24) == 127
        case .v6?: return address?.ipAddress == "::1"
        default: return false
        }
    }
}
