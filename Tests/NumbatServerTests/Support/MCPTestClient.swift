import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MCP
import NumbatAPI

/// The MCP SDK's own client, over its own Streamable HTTP transport, against a live test
/// server's `/mcp`, with a bearer token (or none).
struct MCPTestClient {
    let client: Client

    /// Connects (MCP's initialize) to the server on `port`.
    static func connect(port: Int, token: String?) async throws -> MCPTestClient {
        let endpoint = URL(string: "http://127.0.0.1:\(port)/mcp")!
        let transport = HTTPClientTransport(endpoint: endpoint, streaming: false, requestModifier: { request in
            var request = request
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            return request
        })
        let client = Client(name: "numbat-tests", version: "1")
        _ = try await client.connect(transport: transport)
        return MCPTestClient(client: client)
    }

    func disconnect() async { await client.disconnect() }

    /// A tool's answer: its text and whether it is an error.
    func call(_ tool: String, _ arguments: [String: Value] = [:]) async throws -> (text: String, isError: Bool) {
        let (content, isError) = try await client.callTool(name: tool, arguments: arguments)
        let text = content.compactMap { if case .text(let text, _, _) = $0 { text } else { nil } }.joined()
        return (text, isError ?? false)
    }

    /// A tool's answer decoded as the REST route's type; an error answer throws with its text.
    func decode<T: Decodable>(_ tool: String, _ arguments: [String: Value] = [:], as type: T.Type) async throws -> T {
        let (text, isError) = try await call(tool, arguments)
        guard !isError else { throw MCPToolFailed(text: text) }
        return try APICoding.decoder().decode(T.self, from: Data(text.utf8))
    }
}

struct MCPToolFailed: Error, CustomStringConvertible {
    var text: String
    var description: String { "the tool answered an error: \(text)" }
}
