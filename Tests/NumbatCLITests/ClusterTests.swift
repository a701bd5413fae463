import ErlangDist
import ErlangTerm
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// Several `numbat serve` processes on one PostgreSQL (issue 13): leases split the nodes, a
/// server killed with SIGKILL has its nodes taken over, a server that comes back gets a share
/// without any node going DOWN. Real processes, real PostgreSQL, real OTP nodes.
@Suite("a cluster of servers on PostgreSQL", .requires(.postgres, .otp(.otp25)))
struct ClusterTests {
    struct Cluster: Decodable {
        struct Entry: Decodable {
            struct Server: Decodable {
                var id: UUID
                var node_name: String
            }
            var server: Server
            var alive: Bool
            var nodes: [UUID]
        }
        var servers: [Entry]
        var unleased_nodes: [UUID]
    }

    struct NodeList: Decodable {
        struct Node: Decodable {
            var id: UUID
            var name: String
            var state: String
        }
        var nodes: [Node]
    }

    /// Waits for `condition`, checking every 200 ms, up to `timeout`.
    static func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return try await condition()
    }

    /// Whether every node is leased by the live server rendezvous hashing names, and by it alone.
    static func settled(_ cluster: Cluster, nodes count: Int) -> Bool {
        let live = cluster.servers.filter(\.alive)
        let held = live.flatMap(\.nodes)
        guard held.count == count, Set(held).count == count, cluster.unleased_nodes.isEmpty else { return false }
        let ids = live.map(\.server.id)
        return live.allSatisfy { entry in entry.nodes.allSatisfy { LeasePlanner.owner(of: $0, among: ids) == entry.server.id } }
    }

    static func get<T: Decodable>(_ type: T.Type, _ server: ServerProcess, _ path: String) async throws -> T {
        let (data, _) = try await URLSession.shared.data(from: URL(string: server.url + path)!)
        return try JSONDecoder().decode(T.self, from: data)
    }

    @Test("nodes split by lease; SIGKILL one server: the other manages them all; restarted, it takes a share back with no node DOWN")
    func failover() async throws {
        try await PostgresServer.with { postgres in
            try await postgres.createDatabase("numbat")
            let store = postgres.url(database: "numbat")
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-cluster-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: base) }
            let directories = ["a", "b"].map { base.appendingPathComponent($0) }
            let names = ["numbatA\(UInt32.random(in: 0...UInt32.max))", "numbatB\(UInt32.random(in: 0...UInt32.max))"]
            func serve(_ index: Int) async throws -> ServerProcess {
                try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directories[index].path, "--store", store,
                                               "--node-name", names[index], "--reconnect-initial", "0.2", "--reconnect-max", "1"])
            }
            try await TestNode.withNodes(6, release: .otp25, cookie: "cluster-cookie") { peers in
                let observer = try LocalNode(.init(name: "observer\(UInt32.random(in: 0...UInt32.max))", cookie: "cluster-cookie"))
                defer { Task { await observer.shutdown() } }
                /// The Numbat servers each peer is connected to.
                func managers(of peer: TestNode) async throws -> Set<String> {
                    let hidden = try await observer.rpc(peer.name, "erlang", "nodes", [.atom("hidden")])
                    return Set((hidden.listElements ?? []).compactMap { $0.atomValue?.name }.compactMap { name in
                        names.first { name.hasPrefix($0 + "@") }
                    })
                }

                var servers = [try await serve(0)]
                defer { for server in servers { server.kill() } }
                for peer in peers {
                    let added = try await ChildProcess.run(CLITests.numbat, ["node", "add", peer.name.description, "--cookie", peer.cookie, "--server", servers[0].url])
                    #expect(added.status == 0, "\(added.standardError)")
                }
                // Server B shares A's key file, so it can open the cookies A sealed.
                try FileManager.default.createDirectory(at: directories[1], withIntermediateDirectories: true)
                try FileManager.default.copyItem(at: directories[0].appendingPathComponent("secret.key"), to: directories[1].appendingPathComponent("secret.key"))
                servers.append(try await serve(1))

                // Split: every node leased by exactly one live server, and connected to it alone.
                var split: Cluster?
                let settled = try await Self.eventually(within: .seconds(120)) {
                    let cluster = try await Self.get(Cluster.self, servers[1], "/api/cluster")
                    guard cluster.servers.filter(\.alive).count == 2, Self.settled(cluster, nodes: peers.count) else { return false }
                    for peer in peers where try await managers(of: peer).count != 1 { return false }
                    split = cluster
                    return true
                }
                #expect(settled, "the two servers did not settle on one manager per node")
                let cluster = try #require(split)
                let listed = try await Self.get(NodeList.self, servers[1], "/api/topo/nodes")
                #expect(listed.nodes.count == peers.count, "server B answers for every node")

                // SIGKILL the server holding more nodes; the other must end up managing all.
                let victim = cluster.servers.max { $0.nodes.count < $1.nodes.count }!
                let victimIndex = names.firstIndex { victim.server.node_name.hasPrefix($0 + "@") }!
                let survivor = servers[1 - victimIndex]
                servers[victimIndex].kill()
                let killedAt = ContinuousClock.now
                let takenOver = try await Self.eventually(within: .seconds(120)) {
                    for peer in peers where try await managers(of: peer) != [names[1 - victimIndex]] { return false }
                    let nodes = try await Self.get(NodeList.self, survivor, "/api/topo/nodes")
                    return nodes.nodes.allSatisfy { $0.state == "UP" }
                }
                #expect(takenOver, "the survivor did not take over every node")
                print("cluster failover: every node UP under the survivor \(ContinuousClock.now - killedAt) after SIGKILL")

                // The killed server comes back: shares rebalance, no node goes DOWN.
                let rejoinedAt = Date()
                servers[victimIndex] = try await serve(victimIndex)
                let rebalanced = try await Self.eventually(within: .seconds(120)) {
                    let cluster = try await Self.get(Cluster.self, survivor, "/api/cluster")
                    guard cluster.servers.filter(\.alive).count == 2, Self.settled(cluster, nodes: peers.count) else { return false }
                    for peer in peers where try await managers(of: peer).count != 1 { return false }
                    return true
                }
                #expect(rebalanced, "the restarted server did not get its share")
                let stamp = ISO8601DateFormatter().string(from: rejoinedAt)
                struct Notifications: Decodable {
                    struct Entry: Decodable { var message: String }
                    var notifications: [Entry]
                }
                let since = try await Self.get(Notifications.self, survivor, "/api/notifications?q=DOWN&from=\(stamp)&limit=100")
                #expect(since.notifications.isEmpty, "a node went DOWN during the rebalance: \(since.notifications.map(\.message))")
            }
        }
    }
}
