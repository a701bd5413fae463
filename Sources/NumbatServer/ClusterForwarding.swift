import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NumbatCore
import NumbatServices

/// Sends the requests only a node's holder can answer to the holder (issue 13; which ones and
/// why: `NodeRequestRouting`). Runs after authentication: the caller is known here, and the
/// holder checks the same credentials again (tokens live in the shared database), as the
/// request goes on with the caller's `Authorization` header. The holder's answer comes back
/// unchanged (status, body, content type); a holder that cannot be reached is a 503 naming it.
/// Only in a cluster (PostgreSQL store): on the embedded store every request is answered here.
///
/// Every answer to such a request says which server produced it (`Numbat-Answered-By`, set by
/// the server that ran the route and passed back unchanged by a forwarding one), so a caller or
/// an operator can tell where a node's request really ran.
struct ClusterForwardingMiddleware: RouterMiddleware {
    typealias Context = NumbatRequestContext

    let me: UUID
    let store: any ClusterStore
    let forwarder: ClusterForwarder
    /// The node a stored trace session traces (its first), whose holder runs the session.
    let traceSessionNode: @Sendable (UUID) async throws -> UUID?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        guard let route = try await route(of: &request, context: context) else { return try await next(request, context) }
        let alreadyForwarded = request.headers[ClusterForwarder.forwardedField] != nil
        // A forwarded request is answered here whatever the leases say now: never forwarded twice.
        if alreadyForwarded { return try await answerHere(request, context: context, next: next) }
        let holder: ClusterServer?
        do {
            holder = try await store.leaseHolder(of: route.node)
        } catch {
            context.logger.error("cannot look up a node's holder", metadata: ["node": "\(route.node)", "error": "\(error)"])
            throw NumbatError(.unavailable, "store_unavailable",
                              "cannot tell which server manages node \(route.node.uuidString.lowercased()): the database did not answer")
        }
        switch NodeRequestRouting.decide(me: me, holder: holder, alreadyForwarded: alreadyForwarded) {
        case .local:
            return try await answerHere(request, context: context, next: next)
        case .unavailable(let holder):
            throw NodeRequestRouting.unreachable(holder, node: route.node, reason: "it has not published its API address yet (starting?)")
        case .forward(let holder):
            if route.isWebSocket {
                return try await forwarder.relayWebSocket(request, context: context, to: holder, node: route.node, next: next)
            }
            return try await forwarder.forward(request, context: context, to: holder, node: route.node)
        }
    }

    /// The node-bound route `request` is, or nil. Three are told by more than the path: an
    /// MCP call of a node-bound tool and the start of a trace session on a node, by their body
    /// (read, as the route would read it, and put back), and the stop of a trace session, by
    /// the session's node in the store (its tracer runs on that node's holder).
    func route(of request: inout Request, context: Context) async throws -> NodeRequestRouting.Route? {
        let path = request.uri.path
        if request.method == .post, path == MCPEndpoint.path || path == Self.traceSessions {
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            request.body = RequestBody(buffer: body)
            let bytes = Data(body.readableBytesView)
            let node = path == MCPEndpoint.path ? MCPEndpoint.nodeBoundTarget(bytes) : Self.tracedNode(bytes)
            return node.map { NodeRequestRouting.Route(node: $0) }
        }
        if request.method == .delete, path.hasPrefix(Self.traceSessions + "/"),
           let session = UUID(uuidString: String(path.dropFirst(Self.traceSessions.count + 1))) {
            return try await traceSessionNode(session).map { NodeRequestRouting.Route(node: $0) }
        }
        let query = request.uri.queryParameters
        return NodeRequestRouting.route(method: request.method.rawValue, path: path, query: { query[Substring($0)].map(String.init) })
    }

    static let traceSessions = "/api/trace/sessions"

    /// The node id a trace session's start names (`node`; a family's session runs on the
    /// members this server holds, and a node name is answered here as it can).
    static func tracedNode(_ body: Data) -> UUID? {
        struct Start: Decodable { var node: String? }
        return (try? JSONDecoder().decode(Start.self, from: body))?.node.flatMap(UUID.init(uuidString:))
    }

    /// The route's answer, or its error document, stamped with this server's id.
    private func answerHere(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = try ErrorMiddleware.numbatError(error, request: request, context: context).response(from: request, context: context)
        }
        response.headers[ClusterForwarder.answeredField] = me.uuidString.lowercased()
        return response
    }
}

/// The HTTP side of forwarding: one request out, its answer back.
final class ClusterForwarder: Sendable {
    static let forwardedField = HTTPField.Name(NodeRequestRouting.forwardedHeader)!
    static let answeredField = HTTPField.Name(NodeRequestRouting.answeredHeader)!
    /// Not passed on either way: they describe one connection, not the request (RFC 9110 7.6.1).
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
                                        "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length", "expect"]
    /// Not passed back either: this server sets its own `Date` and `Server`, and a body the
    /// HTTP client decoded has lost its encoding.
    static let notAnswered: Set<String> = hopByHop.union(["date", "server", "content-encoding"])

    let me: UUID
    let session: URLSession
    let logger: Logger

    /// `timeout` bounds the wait for the holder's answer: longer than the longest rpc the API
    /// allows (60 s), so a slow call's own timeout answers first.
    init(me: UUID, logger: Logger, timeout: TimeInterval = 90) {
        self.me = me
        self.logger = logger
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration)
    }

    func forward(_ request: Request, context: NumbatRequestContext, to holder: ClusterServer, node: UUID) async throws -> Response {
        guard let url = NodeRequestRouting.url(on: holder, path: request.uri.path, query: request.uri.query) else {
            throw NodeRequestRouting.unreachable(holder, node: node, reason: "its API address \(holder.apiURL ?? "") is not a URL")
        }
        var forwarded = URLRequest(url: url)
        forwarded.httpMethod = request.method.rawValue
        for (name, value) in outgoingHeaders(request) { forwarded.addValue(value, forHTTPHeaderField: name) }
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        if body.readableBytes > 0 { forwarded.httpBody = Data(body.readableBytesView) }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: forwarded)
        } catch {
            logger.warning("cannot forward a request to the node's holder",
                           metadata: ["node": "\(node)", "holder": "\(holder.name)", "url": "\(url)", "error": "\(error)"])
            throw NodeRequestRouting.unreachable(holder, node: node, reason: Self.describe(error))
        }
        guard let http = response as? HTTPURLResponse else {
            throw NodeRequestRouting.unreachable(holder, node: node, reason: "it did not answer in HTTP")
        }
        var headers = HTTPFields()
        for (key, value) in http.allHeaderFields {
            guard let name = key as? String, let value = value as? String, !Self.notAnswered.contains(name.lowercased()),
                  let field = HTTPField.Name(name) else { continue }
            headers.append(HTTPField(name: field, value: value))
        }
        return Response(status: HTTPResponse.Status(code: http.statusCode), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The caller's headers (its `Authorization` among them) and the mark of a forwarded request.
    func outgoingHeaders(_ request: Request) -> [(String, String)] {
        var headers = request.headers.filter { !Self.hopByHop.contains($0.name.canonicalName) && $0.name != Self.forwardedField }
            .map { ($0.name.rawName, $0.value) }
        headers.append((NodeRequestRouting.forwardedHeader, me.uuidString.lowercased()))
        return headers
    }

    /// A WebSocket (live metrics) for a node held elsewhere: this server connects to the
    /// holder's same WebSocket first (so an unreachable holder is a 503, not a socket that
    /// closes at once), then upgrades the caller's and relays messages both ways until
    /// either side closes.
    func relayWebSocket(_ request: Request, context: NumbatRequestContext, to holder: ClusterServer, node: UUID,
                        next: (Request, NumbatRequestContext) async throws -> Response) async throws -> Response {
        guard let url = NodeRequestRouting.url(on: holder, path: request.uri.path, query: request.uri.query, webSocket: true) else {
            throw NodeRequestRouting.unreachable(holder, node: node, reason: "its API address \(holder.apiURL ?? "") is not a URL")
        }
        let headers = outgoingHeaders(request).filter { !["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"].contains($0.0.lowercased()) }
        let peer: PeerWebSocket
        do {
            peer = try await PeerWebSocket.connect(url: url, headers: headers)
        } catch let error as PeerWebSocket.Refused {
            // The holder answered, and not with an upgrade: its answer, as it gave it.
            return error.response
        } catch {
            throw NodeRequestRouting.unreachable(holder, node: node, reason: Self.describe(error))
        }
        // Claimed by the upgrade; closed if the caller goes before it happens.
        let claimed = PeerWebSocket.Claim(peer)
        let upgrade = WebSocketUpgradeMiddleware<NumbatRequestContext>(shouldUpgrade: { _, _ in .upgrade([:]) }) { inbound, outbound, _ in
            guard let peer = claimed.take() else { return }
            try await peer.relay(inbound: inbound, outbound: outbound)
        }
        claimed.closeUnlessTaken(after: .seconds(30))
        return try await upgrade.handle(request, context: context, next: next)
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? URLError { return error.localizedDescription.isEmpty ? "\(error.code)" : error.localizedDescription }
        return "\(error)"
    }
}
