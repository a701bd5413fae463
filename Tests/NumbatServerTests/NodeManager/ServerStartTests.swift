import Foundation
import NumbatServer
import NumbatTestSupport
import Testing

/// A server whose start fails leaves nothing running.
@Suite("failed server start")
struct ServerStartTests {
    @Test("a service that cannot start stops the ones before it: connections closed, store released")
    func failedStart() async throws {
        try await TestNode.with(release: .otp25, cookie: "failed-start") { peer in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let observer = try Observer(cookie: peer.cookie)
            defer { Task { await observer.shutdown() } }
            let name = "numbatfail\(UInt32.random(in: 0...UInt32.max))"
            // A first run manages the node, so the next start reconnects it.
            try await TestServer.with(directory: directory, configure: { $0.nodeName = name }) { server, client in
                let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: server.adminToken)
                #expect(added.status == .created)
            }
            // Orchestration, the last service, cannot make its release directory.
            let releases = directory.appendingPathComponent("releases")
            try? FileManager.default.removeItem(at: releases)
            try Data("not a directory".utf8).write(to: releases)
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.dataDirectory = directory.path
            configuration.nodeName = name
            configuration.reconnectInitialSeconds = 0.2
            configuration.logLevel = .critical
            let failing = try NumbatServer(configuration: configuration)
            await #expect(throws: (any Error).self) { try await failing.start() }
            #expect(failing.bus.subscriberCount == 0, "the services' event readers ended")
            #expect(failing.nodes.managedCount == 0, "the node manager let go of every node")
            // Whatever the node manager had reconnected is closed again, and stays closed.
            let closed = try await eventually(within: .seconds(30)) { try await observer.hiddenPeers(of: peer).isEmpty }
            #expect(closed)

            // The store was released: the same directory starts cleanly once the cause is gone.
            try FileManager.default.removeItem(at: releases)
            try await TestServer.with(directory: directory, configure: { $0.nodeName = name }) { server, client in
                let up = try await eventually(within: .seconds(30)) {
                    let nodes = try await client.call(.get, "/api/topo/nodes?state=UP", token: server.adminToken)
                    return (nodes["nodes"] as? [Any])?.count == 1
                }
                #expect(up)
            }
        }
    }
}
