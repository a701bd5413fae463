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
/// without any node going DOWN. Real processes, real PostgreSQL, real OTP nodes. The harness is
/// in `ClusterSupport.swift`; more failures (three servers, deployments, a cut from the
/// database) are in `ClusterFailoverTests`.
@Suite("a cluster of servers on PostgreSQL", .requires(.postgres, .otp(.otp25)))
struct ClusterTests {
    /// `eventually` (ClusterSupport.swift), under the name other cluster suites use.
    static func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await NumbatCLITests.eventually(within: timeout, condition)
    }

    @Test("nodes split by lease; SIGKILL one server: the other manages them all; restarted, it takes a share back with no node DOWN")
    func failover() async throws {
        try await ServerCluster.with(slots: 2) { cluster in
            try await TestNode.withNodes(6, release: .otp25, cookie: "cluster-cookie") { peers in
                let observer = try LocalNode(.init(name: "observer\(UInt32.random(in: 0...UInt32.max))", cookie: "cluster-cookie"))
                defer { Task { await observer.shutdown() } }
                func managers(of peer: TestNode) async throws -> Set<Int> { try await cluster.managers(of: peer.name, observer: observer) }

                let first = try await cluster.start(0)
                for peer in peers {
                    let added = try await ChildProcess.run(CLITests.numbat, ["node", "add", peer.name.description, "--cookie", peer.cookie, "--server", first.url])
                    #expect(added.status == 0, "\(added.standardError)")
                }
                let second = try await cluster.start(1)

                // Split: every node leased by exactly one live server, and connected to it alone.
                var split: ClusterView?
                let settled = try await Self.eventually(within: .seconds(120)) {
                    let view = try await API.get(ClusterView.self, second.url, "/api/cluster")
                    guard view.servers.filter(\.alive).count == 2, view.isSettled(nodes: peers.count) else { return false }
                    for peer in peers where try await managers(of: peer).count != 1 { return false }
                    split = view
                    return true
                }
                #expect(settled, "the two servers did not settle on one manager per node; their logs:\n\(cluster.logTails)")
                let view = try #require(split)
                let listed = try await API.get(NodeList.self, second.url, "/api/topo/nodes")
                #expect(listed.nodes.count == peers.count, "server B answers for every node")

                // SIGKILL the server holding more nodes; the other must end up managing all.
                let victim = view.servers.max { $0.nodes.count < $1.nodes.count }!
                let victimSlot = try #require(cluster.slot(of: victim.server.node_name))
                let survivor = try #require(cluster.server(1 - victimSlot))
                await cluster.kill(victimSlot)
                let killedAt = ContinuousClock.now
                let takenOver = try await Self.eventually(within: .seconds(120)) {
                    for peer in peers where try await managers(of: peer) != [1 - victimSlot] { return false }
                    let nodes = try await API.get(NodeList.self, survivor.url, "/api/topo/nodes")
                    return nodes.nodes.allSatisfy { $0.state == "UP" }
                }
                #expect(takenOver, "the survivor did not take over every node; its log:\n\(cluster.logTails)")
                print("cluster failover: every node UP under the survivor \(ContinuousClock.now - killedAt) after SIGKILL")

                // The killed server comes back: shares rebalance, no node goes DOWN.
                let rejoinedAt = Date()
                try await cluster.start(victimSlot)
                let rebalanced = try await Self.eventually(within: .seconds(120)) {
                    let view = try await API.get(ClusterView.self, survivor.url, "/api/cluster")
                    guard view.servers.filter(\.alive).count == 2, view.isSettled(nodes: peers.count) else { return false }
                    for peer in peers where try await managers(of: peer).count != 1 { return false }
                    return true
                }
                #expect(rebalanced, "the restarted server did not get its share; their logs:\n\(cluster.logTails)")
                let stamp = ISO8601DateFormatter().string(from: rejoinedAt)
                struct Notifications: Decodable {
                    struct Entry: Decodable { var message: String }
                    var notifications: [Entry]
                }
                let since = try await API.get(Notifications.self, survivor.url, "/api/notifications?q=DOWN&from=\(stamp)&limit=100")
                #expect(since.notifications.isEmpty, "a node went DOWN during the rebalance: \(since.notifications.map(\.message))")

                // Every node stayed healthy throughout: no server reported an agent unavailable
                // through the split, the kill, the takeover and the rebalance. A node handed to
                // another server while its agents were being started is not an agent failure.
                let restarted = try #require(cluster.server(victimSlot))
                for (name, server) in [("first", first), ("second", second), ("restarted", restarted)] {
                    let unavailable = server.output.split(separator: "\n").filter { $0.contains("agent unavailable") }
                    #expect(unavailable.isEmpty, "the \(name) server reported agents unavailable: \(unavailable.prefix(5))")
                }
            }
        }
    }
}
