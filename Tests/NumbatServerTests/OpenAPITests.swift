import Foundation
import HummingbirdTesting
import NumbatServer
import NumbatTestSupport
import Testing

/// `/api/openapi.json` stays true: every route is documented and every documented path is
/// routed, answers have the documented fields, and the document is valid OpenAPI 3.1.
@Suite("the OpenAPI document")
struct OpenAPITests {
    static var document: [String: Any] { (try? JSONSerialization.jsonObject(with: OpenAPIDocument.data)) as? [String: Any] ?? [:] }

    static var documentedRoutes: Set<String> {
        let paths = document["paths"] as? [String: [String: Any]] ?? [:]
        return Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
    }

    @Test("documents exactly the routes the router has")
    func routesMatch() async throws {
        let test = try await TestServer()
        // The dashboard's own files are a web page, not API (docs/dashboard.md).
        let page: Set<String> = ["GET /", "GET /dashboard", "GET /dashboard/**"]
        let all = Set(test.server.makeRouter().routes.map { "\($0.method) \($0.path)" })
        #expect(page.isSubset(of: all), "the dashboard is served")
        let routed = all.subtracting(page)
        await test.remove()
        #expect(routed.subtracting(Self.documentedRoutes).isEmpty, "routed but not documented: \(routed.subtracting(Self.documentedRoutes).sorted())")
        #expect(Self.documentedRoutes.subtracting(routed).isEmpty, "documented but not routed: \(Self.documentedRoutes.subtracting(routed).sorted())")
        #expect(routed.count >= 15)
    }

    @Test("is valid OpenAPI 3.1 (openapi-spec-validator)")
    func validSpecification() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-openapi-\(UUID().uuidString).json")
        try OpenAPIDocument.data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await ChildProcess.run("/usr/bin/env", ["python3", "-m", "openapi_spec_validator", file.path])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
    }

    @Test("answers carry the documented fields, no more and no fewer")
    func responsesMatchSchemas() async throws {
        try await TestServer.with { server, client in
            let family = try await client.call(.post, "/api/topo/node_families", body: json(["name": "f"]), token: server.adminToken)
            try Self.expect(family.object, matches: "Family")
            let token = try await client.call(.post, "/api/tokens", body: json(["name": "t"]), token: server.adminToken)
            try Self.expect(token.object, matches: "CreatedToken")
            try Self.expect(token.object["token"] as? [String: Any] ?? [:], matches: "Token")
            try Self.expect(try await client.call(.get, "/api/health", token: nil).object, matches: "Health")
            try Self.expect(try await client.call(.get, "/api/topo/graph", token: server.adminToken).object, matches: "Graph")
            try Self.expect(try await client.call(.get, "/api/topo/nodes/\(UUID())", token: server.adminToken).object, matches: "Error")
        }
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with { server, client in
                let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: server.adminToken)
                try Self.expect(added.object, matches: "AddNodeResult")
                try Self.expect(added.object["node"] as? [String: Any] ?? [:], matches: "Node")
            }
        }
    }

    /// `object`'s keys are among the schema's properties and include its required ones.
    static func expect(_ object: [String: Any], matches schemaName: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let schema = try #require(schemas?[schemaName] as? [String: Any], sourceLocation: sourceLocation)
        let properties = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
        let required = Set(schema["required"] as? [String] ?? [])
        let keys = Set(object.keys)
        #expect(keys.subtracting(properties).isEmpty, "\(schemaName): undocumented \(keys.subtracting(properties).sorted())", sourceLocation: sourceLocation)
        #expect(required.subtracting(keys).isEmpty, "\(schemaName): missing \(required.subtracting(keys).sorted())", sourceLocation: sourceLocation)
    }
}
