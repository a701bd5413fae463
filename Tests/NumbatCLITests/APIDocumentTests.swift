import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NumbatTestSupport
import Testing

/// The API document tells the truth (issue 17 item 2): schemathesis, every check and every
/// phase (stateful links included), against `numbat serve` on a non-loopback listener, so every
/// request carries the admin token, managing a real node. A short, seeded run: the long one and
/// the operations left out (scripts/schemathesis.toml) are in docs/reliability.md.
@Suite("the API document tells the truth")
struct APIDocumentTests {
    @Test("schemathesis finds no server error and no disagreement with the document", .requires(.schemathesis))
    func schemathesis() async throws {
        let cookie = "schema-cookie-\(UUID().uuidString)"
        try await TestNode.with(release: .otp25, cookie: cookie) { node in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-schema-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let server = try await ServerProcess.start(["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", directory.path,
                                                        "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))"])
            defer { server.kill() }
            let port = try #require(URL(string: server.url)?.port)
            let base = "http://127.0.0.1:\(port)"
            let token = try String(contentsOf: directory.appendingPathComponent("admin-token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)

            var request = URLRequest(url: try #require(URL(string: base + "/api/actions/add-node")))
            request.httpMethod = "POST"
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: ["node": node.name.description, "cookie": cookie])
            let (_, added) = try await URLSession.shared.data(for: request)
            #expect((added as? HTTPURLResponse)?.statusCode == 201)

            // Few examples per operation and a fixed seed: the same short run every time.
            let run = try await Schemathesis.run(document: base + "/api/openapi.json",
                                                 ["--header", "Authorization: Bearer \(token)", "--max-examples", "5", "--seed", "17",
                                                  "--workers", "1", "--request-timeout", "30"])
            #expect(run.status == 0, "schemathesis found failures:\n\(run.standardOutput)\n\(run.standardError)")
            #expect(run.standardOutput.contains("Stateful"), "the stateful phase ran:\n\(run.standardOutput)")
            #expect(!run.standardOutput.contains(token), "schemathesis's report hides the token")
            #expect(try await server.terminate() == 0)
        }
    }
}
