import ErlangTerm
import Foundation
import GRDB
import NumbatCore
@testable import NumbatStore
import NumbatTestSupport
import Testing

/// The node manager is the only writer of node state: checked in the sources, and by what one
/// add-node request does to a real node, the store and the event bus.
@Suite("one owner of node state")
struct NodeOwnershipTests {
    /// Source files allowed to write nodes: the node manager's, the store protocols and their
    /// implementations.
    static let writers = ["Sources/NumbatServices/NodeManager/", "Sources/NumbatStore/", "Sources/NumbatCore/Store/"]

    @Test("only the node manager's files call the store's node-writing functions or publish node events")
    func grepInvariant() throws {
        let sources = PackagePaths.root.appendingPathComponent("Sources")
        let pattern = try Regex(#"[sS]tore\.(insertNode|updateNode|deleteNode|setTLS)\(|publish\(\.node(Added|StateChanged|Removed)"#)
        var offenders: [String] = []
        var scanned = 0
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            let path = String(url.path.dropFirst(PackagePaths.root.path.count + 1))
            scanned += 1
            guard !Self.writers.contains(where: path.hasPrefix) else { continue }
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where line.contains(pattern) {
                offenders.append("\(path):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(scanned > 50, "the scan found the sources")
        #expect(offenders.isEmpty, "node state written outside the node manager:\n\(offenders.joined(separator: "\n"))")
    }

    @Test("adding a node: one probe, one row write, one event", arguments: OTPRelease.installed)
    func addNode(release: OTPRelease) async throws {
        try await TestNode.with(release: release, cookie: "owner-\(release.rawValue)") { peer in
            let observer = try Observer(cookie: peer.cookie)
            defer { Task { await observer.shutdown() } }
            // Counts every call of init:script_id/0 on the node (the probe's second rpc), from
            // any process, without a tracer.
            let probe: Term = .tuple([.atom("init"), .atom("script_id"), .integer(0)])
            #expect(try await observer.local.rpc(peer.name, "erlang", "trace_pattern", [probe, .atom("true"), .list([.atom("call_count")])]) == .integer(1))
            try await TestServer.with { server, client in
                // Counts the node table's writes inside SQLite itself.
                try await #require(server.server.store as? SQLiteStore).pool.write { db in
                    try db.execute(sql: """
                        CREATE TABLE test_node_writes (n INTEGER NOT NULL);
                        INSERT INTO test_node_writes VALUES (0);
                        CREATE TRIGGER test_node_inserted AFTER INSERT ON node BEGIN UPDATE test_node_writes SET n = n + 1; END;
                        CREATE TRIGGER test_node_updated AFTER UPDATE ON node BEGIN UPDATE test_node_writes SET n = n + 1; END;
                        """)
                }
                let events = server.server.bus.subscribe()
                let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: server.adminToken)
                #expect(added.status == .created, "\(added.text)")
                let id = try #require((added["node"] as? [String: Any])?["id"] as? String)
                // The node's other agents are running once its commands agent answers: a later
                // probe or write by the supervisor would have happened by then.
                let explored = try await eventually(within: .seconds(30)) {
                    try await client.call(.get, "/api/nodes/\(id)/processes?limit=1", token: server.adminToken).status == .ok
                }
                #expect(explored)

                let count = try await observer.local.rpc(peer.name, "erlang", "trace_info", [probe, .atom("call_count")])
                #expect(count == .tuple([.atom("call_count"), .integer(1)]), "init:script_id/0 calls: \(count.erlangDescription)")
                let writes = try await #require(server.server.store as? SQLiteStore).pool.read { db in try Int.fetchOne(db, sql: "SELECT n FROM test_node_writes") }
                #expect(writes == 1)

                let removed = try await client.call(.delete, "/api/topo/nodes/\(id)", token: server.adminToken)
                #expect(removed.status == .ok)
                var nodeEvents: [NumbatEvent.Kind] = []
                for await event in events where event.topic == .node {
                    if case .nodeRemoved = event.kind { break }
                    nodeEvents.append(event.kind)
                }
                #expect(nodeEvents.count == 1, "\(nodeEvents)")
                guard case .nodeStateChanged(let node, from: .uninit)? = nodeEvents.first else {
                    Issue.record("expected node UP from UNINIT, got \(nodeEvents)")
                    return
                }
                #expect(node.state == .up && node.id == UUID(uuidString: id))
            }
            _ = try? await observer.local.rpc(peer.name, "erlang", "trace_pattern", [probe, .atom("false"), .list([.atom("call_count")])])
        }
    }
}
