import ErlangDist
import ErlangTerm
import Foundation
import HummingbirdTesting
import HummingbirdWSTesting
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NIOCore
import NumbatTestSupport
import Testing

/// Node loss, node restart and server restart, watched over the WebSocket and the REST API.
@Suite("node and server lifecycles")
struct LifecycleTests {
    @Test("a killed node goes DOWN with a node_down event on the WebSocket; restarted, it comes back UP by itself", arguments: OTPRelease.installed)
    func killAndRestart(release: OTPRelease) async throws {
        let peer = try await TestNode.start(release: release)
        let alive = peer.name.alive
        let restarted = NIOLockedValueBox<TestNode?>(nil)
        defer {
            peer.stop()
            restarted.withLockedValue { $0?.stop() }
        }
        try await TestServer.with(.live) { server, client in
            let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: server.adminToken)
            let id = try #require((added["node"] as? [String: Any])?["id"] as? String)

            try await client.ws("/api/ws?token=\(server.adminToken)") { inbound, outbound, _ in
                let watchdog = Task {
                    try await Task.sleep(for: .seconds(60))
                    try await outbound.close(.goingAway, reason: "test timed out")
                }
                defer { watchdog.cancel() }
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                #expect(try await Self.next(&messages)?["type"] as? String == "hello")
                try await outbound.write(.text(json(["subscribe": ["topics": ["node"], "nodes": [id]]])))
                #expect(try await Self.next(&messages)?["type"] as? String == "subscribed")

                // How soon DOWN follows the kill is `numbat-bench --only timings`'s figure.
                await peer.stopped()
                let down = try await Self.next(&messages) { $0["type"] as? String == "node_down" }
                #expect((down?["node"] as? [String: Any])?["state"] as? String == "DOWN")
                #expect(down?["from"] as? String == "UP")

                // The same node starts again: the node manager reconnects without being asked.
                let again = try await TestNode.start(release: release, cookie: peer.cookie, alive: alive)
                restarted.withLockedValue { $0 = again }
                let up = try await Self.next(&messages) { $0["type"] as? String == "node_up" }
                #expect((up?["node"] as? [String: Any])?["state"] as? String == "UP")
            }
            let node = try await client.call(.get, "/api/topo/nodes/\(id)", token: server.adminToken)
            #expect(node["state"] as? String == "UP")
        }
    }

    @Test("after a server restart every managed node comes back from the store and reconnects", arguments: OTPRelease.installed)
    func serverRestart(release: OTPRelease) async throws {
        try await TestNode.withNodes(2, release: release) { peers in
            let observer = try Observer(cookie: peers[0].cookie)
            let nodeName = "numbat\(UInt32.random(in: 0...UInt32.max))"
            let first = try await TestServer(nodeName: nodeName)
            try await first.server.makeApplication().test(.router) { client in
                for peer in peers {
                    let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: first.adminToken)
                    #expect(added.status == .created)
                }
            }
            await first.stop()
            // Stopping closed the connections.
            for peer in peers {
                #expect(try await eventually(within: .seconds(30)) { try await observer.hiddenPeers(of: peer).isEmpty })
            }

            let second = try await TestServer(directory: first.directory, nodeName: nodeName)
            for peer in peers {
                #expect(try await eventually(within: .seconds(30)) { try await observer.hiddenPeers(of: peer) == [second.hiddenNodeName] })
            }
            try await second.server.makeApplication().test(.router) { client in
                let nodes = try await client.call(.get, "/api/topo/nodes", token: second.adminToken)["nodes"] as? [[String: Any]] ?? []
                #expect(Set(nodes.compactMap { $0["name"] as? String }) == Set(peers.map(\.name.description)))
                #expect(try await eventually(within: .seconds(5)) {
                    let up = try await client.call(.get, "/api/topo/nodes?state=UP", token: second.adminToken)["nodes"] as? [Any]
                    return up?.count == peers.count
                })
            }
            #expect(second.adminToken == first.adminToken, "the admin token survives restarts")
            await second.remove()
            await observer.shutdown()
        }
    }

    /// The next JSON message matching `predicate`, or nil when the socket ends first.
    static func next(_ messages: inout WebSocketInboundMessageStream.AsyncIterator,
                     where predicate: ([String: Any]) -> Bool = { _ in true }) async throws -> [String: Any]?
    {
        while let message = try await messages.next() {
            guard case .text(let text) = message,
                  let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            else { continue }
            if predicate(object) { return object }
        }
        return nil
    }
}

@Suite("authentication by listen address")
struct ListenAddressTests {
    @Test("on loopback, loopback callers need no token")
    func loopbackOnly() async throws {
        try await TestServer.with(.live) { (_: TestServer, client: any TestClientProtocol) async throws in
            #expect(try await client.call(.get, "/api/topo/nodes", token: nil).status == .ok)
            #expect(try await client.call(.post, "/api/topo/node_families", body: json(["name": "f"]), token: nil).status == .created)
        }
    }

    @Test("on any other address every request needs a token, loopback callers too")
    func everywhere() async throws {
        try await TestServer.with(.live, host: "0.0.0.0") { server, client in
            let anonymous = try await client.call(.get, "/api/topo/nodes", token: nil)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.errorCode == "token_required")
            #expect(try await client.call(.get, "/api/topo/nodes", token: server.adminToken).status == .ok)
            #expect(!server.server.configuration.listensOnLoopbackOnly)
        }
    }
}
