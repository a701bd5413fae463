import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NumbatProviders
import NumbatTestSupport
import Testing

/// Secrets stay secret (issue 17 item 5): `numbat serve` on a non-loopback listener, given every
/// kind of secret it keeps (node cookies, a TLS key, cloud secrets, a provider's SSH key, API
/// tokens), then every API answer, every WebSocket event, its log and its database files are
/// scanned for them in plain text; and every route refuses callers without a token, but the
/// dashboard's files, the health check and the API document.
@Suite("secrets stay secret")
struct SecretsScanTests {
    /// One request with an optional token: the status and the body as text.
    static func request(_ method: String, _ url: String, token: String?, body: [String: Any]? = nil) async throws -> (status: Int, text: String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        request.timeoutInterval = 60
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The documented routes: (method, path template).
    static func routes() throws -> [(method: String, path: String)] {
        let url = PackagePaths.root.appendingPathComponent("Sources/NumbatServer/Resources/openapi.json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        return paths.flatMap { path, operations in
            operations.keys.filter { ["get", "post", "put", "delete"].contains($0) }.map { ($0.uppercased(), path) }
        }.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    @Test("a full scenario's secrets appear in no answer, event, log line or database file; without a token every route but the public ones is refused",
          .requires(.moto))
    func scan() async throws {
        let certificates = try await TLSCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let plainCookie = "plain-cookie-\(UUID().uuidString)"
        let tlsCookie = "tls-cookie-\(UUID().uuidString)"
        try await TestNode.with(release: .otp25, cookie: plainCookie) { plain in
          try await TestNode.with(release: .otp25, cookie: tlsCookie, extraArgs: certificates.nodeArguments) { secure in
            try await MotoServer.with { moto in
              try await FakeOpenStack.with { openStack in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-secrets-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: directory) }
                // 0.0.0.0: not loopback only, so every caller needs a token, loopback ones too.
                let server = try await ServerProcess.start(["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", directory.path,
                                                            "--metrics-interval", "1", "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))"])
                defer { server.kill() }
                let port = try #require(URL(string: server.url)?.port)
                let base = "http://127.0.0.1:\(port)"
                let admin = try String(contentsOf: directory.appendingPathComponent("admin-token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

                // Without a token (or with a wrong one), every route is refused but the public ones.
                let open: Set<String> = ["/api/health", "/api/openapi.json"]
                for (method, template) in try Self.routes() {
                    let path = template.replacingOccurrences(of: #"\{[a-z_]+\}"#, with: UUID().uuidString.lowercased(), options: .regularExpression)
                    for token in [nil, "nbt_wrong"] as [String?] {
                        let (status, text) = try await Self.request(method, base + path, token: token)
                        if open.contains(template) {
                            // Public without a token; a wrong token is still refused.
                            #expect(status == (token == nil ? 200 : 401), "\(method) \(template): \(status)")
                        } else {
                            #expect(status == 401, "\(method) \(template) without a valid token: \(status) \(text.prefix(200))")
                        }
                    }
                }
                for path in ["/", "/dashboard/index.html", "/dashboard/js/app.js"] {
                    #expect(try await Self.request("GET", base + path, token: nil).status == 200, "\(path) is the dashboard's own file")
                }

                let events = try await TestWebSocket.connect(base, path: "/api/ws", headers: ["Authorization": "Bearer \(admin)"])
                defer { events.close() }
                var answers: [String] = []
                func call(_ method: String, _ path: String, _ body: [String: Any]? = nil, scanned: Bool = true) async throws -> String {
                    let (status, text) = try await Self.request(method, base + path, token: admin, body: body)
                    #expect((200..<300).contains(status), "\(method) \(path): \(status) \(text.prefix(300))")
                    if scanned { answers.append("\(method) \(path) -> \(text)") }
                    return text
                }
                func json(_ text: String) -> [String: Any] {
                    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
                }

                // Every kind of secret the server keeps.
                let tlsKey = try String(contentsOfFile: certificates.path("numbat.key"), encoding: .utf8)
                let tls = ["certificate": try String(contentsOfFile: certificates.path("numbat.pem"), encoding: .utf8), "key": tlsKey,
                           "ca": try String(contentsOfFile: certificates.path("ca.pem"), encoding: .utf8)]
                _ = try await call("POST", "/api/actions/add-node", ["node": plain.name.description, "cookie": plainCookie])
                let added = json(try await call("POST", "/api/actions/add-node", ["node": secure.name.description, "cookie": tlsCookie, "tls": tls]))
                let family = try #require((added["node"] as? [String: Any])?["family_id"] as? String)
                _ = try await call("PUT", "/api/topo/node_families/\(family)/tls", tls)
                let ec2Secret = "ec2-secret-\(UUID().uuidString)"
                _ = try await call("POST", "/api/orch/providers", ["type": "ec2", "name": "EC2", "endpoint": moto.endpoint.absoluteString,
                                                                  "access_key_id": "AKIDSCAN", "secret_access_key": ec2Secret])
                _ = try await call("POST", "/api/orch/providers", ["type": "openstack", "name": "OpenStack", "auth_url": openStack.authURL.absoluteString,
                                                                  "username": FakeOpenStack.username, "password": FakeOpenStack.password,
                                                                  "project_name": FakeOpenStack.projectName])
                let key = SSHKeyPair.generate()
                _ = try await call("POST", "/api/orch/providers", ["type": "physical", "name": "Lab", "hosts": ["192.0.2.7"], "private_key": key.openSSHPrivateKey])
                let created = json(try await call("POST", "/api/tokens", ["name": "grafana", "role": "viewer"], scanned: false))
                let viewer = try #require(created["secret"] as? String, "\(created)")
                // Some traffic: metrics, a notification, an audited rpc.
                let nodes = try #require(json(try await call("GET", "/api/topo/nodes"))["nodes"] as? [[String: Any]])
                let ids = nodes.compactMap { $0["id"] as? String }
                #expect(ids.count == 2)
                _ = try await call("POST", "/api/nodes/\(ids[0])/rpc", ["module": "erlang", "function": "node", "args": []])
                for id in ids {
                    _ = try await call("POST", "/api/nodes/\(id)/rpc", ["module": "logger", "function": "error", "args_erlang": #"["scanned for secrets"]"#])
                }
                let notified = await events.waitFor(within: .seconds(60)) { $0.filter { $0["type"] as? String == "notification" }.count >= 2 }
                #expect(notified, "\(events.types)")
                let collected = try await eventually(within: .seconds(60)) {
                    (try await Self.request("GET", base + "/api/metrics/nodes/\(ids[1])", token: admin)).status == 200
                }
                #expect(collected)

                // Every documented GET, with the ids there are.
                let providers = (json(try await call("GET", "/api/orch/providers"))["items"] as? [[String: Any]] ?? []).compactMap { $0["uuid"] as? String }
                let tokens = (json(try await call("GET", "/api/tokens"))["tokens"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                for (method, template) in try Self.routes() where method == "GET" && !template.hasSuffix("/live") && template != "/api/ws" {
                    let id: String? = template.contains("provider") ? providers.first : template.contains("famil") ? family
                        : template.contains("token") ? tokens.first : ids.first
                    let path = template.replacingOccurrences(of: #"\{id\}"#, with: id ?? UUID().uuidString, options: .regularExpression)
                        .replacingOccurrences(of: #"\{[a-z_]+\}"#, with: "0", options: .regularExpression)
                    answers.append("GET \(path) -> \(try await Self.request("GET", base + path, token: admin).text)")
                }
                #expect(try await server.terminate() == 0)

                // The secrets, and where they must not be.
                let keyBody = { (pem: String) in pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined() }
                let secrets = ["the plain node's cookie": plainCookie, "the TLS node's cookie": tlsCookie, "the TLS key": keyBody(tlsKey),
                               "the EC2 secret": ec2Secret, "the OpenStack password": FakeOpenStack.password,
                               "the provider's SSH key": keyBody(key.openSSHPrivateKey), "the viewer token": viewer, "the admin token": admin]
                let texts = answers + events.messages.map { String(decoding: (try? JSONSerialization.data(withJSONObject: $0)) ?? Data(), as: UTF8.self) }
                    + [server.output]
                #expect(answers.count > 30 && events.messages.count > 5, "\(answers.count) answers, \(events.messages.count) events scanned")
                for (what, secret) in secrets {
                    #expect(secret.count >= 16)
                    let seen = texts.filter { $0.contains(secret) }.map { String($0.prefix(200)) }
                    #expect(seen.isEmpty, "\(what) is in: \(seen)")
                }
                // The store's files hold them sealed only (secret.key and admin-token are the
                // keys themselves, by design).
                let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey])
                var scanned = 0
                while let file = files?.nextObject() as? URL {
                    guard try file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true,
                          !["secret.key", "admin-token"].contains(file.lastPathComponent) else { continue }
                    let bytes = try Data(contentsOf: file)
                    scanned += 1
                    for (what, secret) in secrets where what != "the admin token" && what != "the viewer token" {
                        #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(what) is in \(file.lastPathComponent)")
                    }
                    // Tokens are stored hashed: neither appears.
                    for token in [admin, viewer] { #expect(bytes.range(of: Data(token.utf8)) == nil, "a token is in \(file.lastPathComponent)") }
                }
                #expect(scanned >= 2, "the store's files were scanned")
              }
            }
          }
        }
    }
}
