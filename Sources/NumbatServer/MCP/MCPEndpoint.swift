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
            if let problem = invalidMessage(Data(body.readableBytesView)) {
                return response(.error(statusCode: 400, .invalidRequest(problem)))
            }
            let answer = await handle(transportRequest(request, body: Data(body.readableBytesView)), tools: NumbatMCPTools(server: numbat, identity: identity),
                                      checkingHost: numbat.configuration.allowsLoopbackWithoutToken, logger: numbat.logger)
            return response(answer)
        }
    }

    /// Why `body` is not one JSON-RPC 2.0 request or notification as the API document describes
    /// it (an object with `jsonrpc` "2.0", a `method`, an optional string or integer `id` and an
    /// optional object `params`), or nil. The SDK answers some such bodies with a JSON-RPC error
    /// in a 200, which would contradict the document's 400.
    static func invalidMessage(_ body: Data) -> String? {
        do {
            _ = try JSONDecoder().decode(MessageShape.self, from: body)
            return nil
        } catch let error as MessageShape.Problem {
            return error.description
        } catch {
            return "the body must be one JSON-RPC 2.0 message, a JSON object with jsonrpc \"2.0\" and a method"
        }
    }

    /// The node whose holder must answer `body`: a `tools/call` of a node-bound tool (the
    /// explorers, rpc) with a node id; nil for anything any server answers (a malformed body
    /// included: answered here, with its error).
    static func nodeBoundTarget(_ body: Data) -> UUID? {
        struct Call: Decodable {
            struct Parameters: Decodable {
                struct Arguments: Decodable { var node: String? }
                var name: String
                var arguments: Arguments?
            }
            var method: String
            var params: Parameters?
        }
        guard let call = try? JSONDecoder().decode(Call.self, from: body), call.method == CallTool.name,
              let parameters = call.params,
              NumbatMCPTools.definitions.contains(where: { $0.name == parameters.name && $0.nodeBound }),
              let node = parameters.arguments?.node
        else { return nil }
        return UUID(uuidString: node)
    }

    /// The envelope of a JSON-RPC 2.0 request or notification, read only to check its shape.
    private struct MessageShape: Decodable {
        struct Problem: Error, CustomStringConvertible { let description: String }
        /// Any JSON value, not kept.
        struct Anything: Decodable { init(from decoder: any Decoder) throws {} }
        enum CodingKeys: String, CodingKey { case jsonrpc, method, id, params }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            guard try container.decodeIfPresent(String.self, forKey: .jsonrpc) == "2.0" else { throw Problem(description: "jsonrpc must be \"2.0\"") }
            guard let method = try? container.decode(String.self, forKey: .method), !method.isEmpty else {
                throw Problem(description: "method must be a non-empty string")
            }
            if container.contains(.id) {
                let isString = (try? container.decode(String.self, forKey: .id)) != nil
                let isInteger = (try? container.decode(Int.self, forKey: .id)) != nil
                guard isString || isInteger else { throw Problem(description: "id must be a string or an integer") }
            }
            if container.contains(.params), (try? container.decode([String: Anything].self, forKey: .params)) == nil {
                throw Problem(description: "params must be an object")
            }
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
