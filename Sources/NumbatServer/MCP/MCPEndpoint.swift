import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import NIOCore
import NumbatCore
import NumbatServices

/// `POST /mcp`: the Model Context Protocol's Streamable HTTP transport on the API's own server,
/// behind the same authentication (bearer token; loopback rules as for the REST API).
///
/// Stateless, as the SDK's `StatelessHTTPServerTransport` is: each POST gets its own MCP
/// `Server` holding the caller's identity, answers with one JSON document, and ends. No session
/// to keep or expire, the identity cannot leak from one caller to another, and any of several
/// servers sharing a store can answer. Numbat sends nothing unasked, so GET's event stream has
/// nothing to carry: GET and DELETE are 405s (the documented-routes middleware).
enum MCPEndpoint {
    static let path = "/mcp"

    static func addRoute(to router: Router<NumbatRequestContext>, server numbat: NumbatServer) {
        router.post(RouterPath(stringLiteral: path)) { request, context -> Response in
            guard let identity = context.identity else {
                throw NumbatError(.unauthorized, "token_required", "an API token is required: send Authorization: Bearer <token>")
            }
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            let answer = await handle(transportRequest(request, body: Data(body.readableBytesView)), tools: NumbatMCPTools(server: numbat, identity: identity),
                                      checkingHost: numbat.configuration.allowsLoopbackWithoutToken, logger: numbat.logger)
            return response(answer)
        }
    }

    /// Runs one MCP exchange: a fresh `Server` with the caller's tools on a stateless transport.
    static func handle(_ request: MCP.HTTPRequest, tools: NumbatMCPTools, checkingHost: Bool, logger: Logger) async -> MCP.HTTPResponse {
        // Host and Origin checks guard against DNS rebinding, which matters where a loopback
        // caller needs no token; elsewhere every request carries a token a web page cannot have.
        let transport = StatelessHTTPServerTransport(validationPipeline: StandardValidationPipeline(validators: [
            checkingHost ? OriginValidator.localhost() : OriginValidator.disabled,
            AcceptHeaderValidator(mode: .jsonOnly),
            ContentTypeValidator(),
            ProtocolVersionValidator(),
        ]), logger: logger)
        let server = MCP.Server(name: "numbat", version: OpenAPIDocument.version,
                                instructions: "Numbat manages Erlang/Elixir nodes. Node ids come from the nodes tool.",
                                capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: tools.tools) }
        await server.withMethodHandler(CallTool.self) { parameters in try await tools.call(parameters) }
        do {
            try await server.start(transport: transport)
        } catch {
            return .error(statusCode: 500, .internalError("the MCP server did not start: \(error)"))
        }
        let answer = await transport.handleRequest(request)
        await server.stop()
        return answer
    }

    /// The SDK's framework-neutral request from Hummingbird's.
    static func transportRequest(_ request: Request, body: Data) -> MCP.HTTPRequest {
        var headers: [String: String] = [:]
        for field in request.headers {
            headers[field.name.canonicalName] = headers[field.name.canonicalName].map { "\($0), \(field.value)" } ?? field.value
        }
        return MCP.HTTPRequest(method: request.method.rawValue, headers: headers, body: body, path: request.uri.path)
    }

    /// Hummingbird's response from the SDK's (the stateless transport never streams).
    static func response(_ answer: MCP.HTTPResponse) -> Response {
        var headers = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { headers[name] = value }
        }
        let body = answer.bodyData.map { ResponseBody(byteBuffer: ByteBuffer(bytes: $0)) } ?? ResponseBody()
        return Response(status: .init(code: answer.statusCode), headers: headers, body: body)
    }
}
