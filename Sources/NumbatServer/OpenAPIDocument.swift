import Foundation
import Hummingbird
import NumbatCore

/// The OpenAPI 3.1 description of the REST API: the document shipped as a resource, completed
/// with what the code holds the one list of (the WebSocket's event topics, `EventTopic`), so
/// the document cannot drift from it.
public enum OpenAPIDocument {
    public static let data: Data = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let data = try? Data(contentsOf: url)
        else { return Data("{}".utf8) }
        return (try? completed(data)) ?? data
    }()

    /// The API's version (`info.version`), which the MCP endpoint gives as its server's.
    static let version: String = {
        let document = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        return (document?["info"] as? [String: Any])?["version"] as? String ?? "0"
    }()

    static func response() throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Adds the `EventTopic` schema and the WebSocket route's description of the topics.
    static func completed(_ data: Data) throws -> Data {
        guard var document = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return data }
        var components = document["components"] as? [String: Any] ?? [:]
        var schemas = components["schemas"] as? [String: Any] ?? [:]
        schemas["EventTopic"] = ["type": "string", "enum": EventTopic.names,
                                 "description": "A WebSocket subscription topic; the hello frame lists them all."]
        components["schemas"] = schemas
        document["components"] = components
        if var paths = document["paths"] as? [String: Any], var socket = paths["/api/ws"] as? [String: Any],
           var get = socket["get"] as? [String: Any]
        {
            get["description"] = "The first frame is {\"type\": \"hello\", \"topics\": [...]}. Topics: \(EventTopic.names.joined(separator: ", ")). "
                + "An unknown topic in a subscription is answered with {\"type\": \"error\", \"message\": ...} naming it."
            socket["get"] = get
            paths["/api/ws"] = socket
            document["paths"] = paths
        }
        return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    }
}
