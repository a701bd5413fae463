import Foundation
import Logging
import HummingbirdTesting
import NumbatServer
import NumbatStore
import NumbatTestSupport
import Testing

/// A whole Numbat server on PostgreSQL managing a real OTP 25 node: what the store suite checks
/// function by function, seen through the API, and kept across a restart.
@Suite("server on PostgreSQL with a real node", .requires(.postgres, .otp(.otp25)))
struct PostgresEndToEndTests {
    @Test("a node added to a server on PostgreSQL is UP, stored with a sealed cookie, and UP again after a restart")
    func manageNode() async throws {
        try await PostgresServer.with { postgres in
            try await postgres.createDatabase("numbat")
            let location = try StoreLocation(parsing: postgres.url(database: "numbat"))
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            try await TestNode.with(release: .otp25, cookie: "pg-e2e-cookie-\(UInt32.random(in: 0...UInt32.max))") { peer in
                let id = try await TestServer.with(directory: directory, configure: { $0.store = location }) { server, client in
                    #expect(server.server.store is PostgresStore)
                    let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]),
                                                      token: server.adminToken)
                    #expect(added.status == .created, "\(added.text)")
                    let node = try #require(added["node"] as? [String: Any])
                    #expect(node["state"] as? String == "UP")
                    #expect(node["boot_script"] as? String == "Erlang/OTP 25")
                    let families = try await client.call(.get, "/api/topo/node_families", token: server.adminToken)
                    #expect((families["families"] as? [[String: Any]])?.first?["kind"] as? String == "automatic")
                    let again = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]),
                                                      token: server.adminToken)
                    #expect(again.status == .conflict)
                    return try #require(node["id"] as? String)
                }
                // In PostgreSQL, the node and its family; the cookie only sealed; no SQLite file.
                let rows = try await postgres.psql("SELECT name, state FROM node", database: "numbat")
                #expect(rows == "\(peer.name.description)|UP" || rows == "\(peer.name.description)|DOWN")
                let sealed = try await postgres.psql("SELECT encode(cookie_sealed, 'escape') FROM node", database: "numbat")
                #expect(!sealed.isEmpty && !sealed.contains(peer.cookie))
                #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("numbat.sqlite").path))

                // A new server on the same database and data directory (its key file) reconnects.
                try await TestServer.with(directory: directory, configure: { $0.store = location }) { server, client in
                    let up = await eventually(within: .seconds(30)) {
                        let shown = try? await client.call(.get, "/api/topo/nodes/\(id)", token: server.adminToken)
                        return shown?["state"] as? String == "UP"
                    }
                    #expect(up, "the stored node did not come UP under the restarted server")
                }
            }
        }
    }

    @Test("a server whose secret.key is not the database's is refused at start, naming the key file; the same key is accepted")
    func keyMismatch() async throws {
        try await PostgresServer.with { postgres in
            try await postgres.createDatabase("keys")
            guard case .postgres(let location) = try StoreLocation(parsing: postgres.url(database: "keys")) else {
                Issue.record("not a PostgreSQL location")
                return
            }
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-keys-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: base) }
            let logger = Logger(label: "test")
            func open(_ name: String) async throws -> [String] {
                let store = try PostgresStore(location: location, directory: base.appendingPathComponent(name), logger: logger)
                defer { Task { try? await store.shutdown() } }
                return try await store.appliedMigrations()
            }
            #expect(try await open("first").contains { $0.hasPrefix("v9") })
            do {
                _ = try await open("second")
                Issue.record("a server with another key file was accepted")
            } catch let error as PostgresStoreError {
                #expect("\(error)".contains("second/secret.key"))
                #expect("\(error)".contains("need the same key file"))
            }
            try FileManager.default.removeItem(at: base.appendingPathComponent("second/secret.key"))
            try FileManager.default.copyItem(at: base.appendingPathComponent("first/secret.key"), to: base.appendingPathComponent("second/secret.key"))
            #expect(try await open("second").count >= 9)
        }
    }
}
