import Foundation
@testable import NumbatServices
import Testing

/// How servers split the managed nodes, without a database.
@Suite("lease planner (pure)")
struct LeasePlannerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let servers = (1...3).map { UUID(uuidString: "00000000-0000-0000-0000-00000000000\($0)")! }
    let nodes = (0..<3000).map { _ in UUID() }

    func fresh(_ ids: [UUID]) -> [LeasePlanner.Server] { ids.map { .init(id: $0, heartbeatAt: now) } }

    @Test("every node has exactly one owner, and the shares are even")
    func split() {
        var owners: [UUID: Int] = [:]
        for server in servers {
            let plan = LeasePlanner(me: server, ttl: 6).plan(nodes: nodes, servers: fresh(servers), leases: [:], now: now)
            #expect(plan.release.isEmpty)
            owners[server] = plan.acquire.count
            for other in servers where other != server {
                let theirs = LeasePlanner(me: other, ttl: 6).plan(nodes: nodes, servers: fresh(servers), leases: [:], now: now)
                #expect(Set(plan.acquire).isDisjoint(with: theirs.acquire))
            }
        }
        #expect(owners.values.reduce(0, +) == nodes.count)
        for count in owners.values { #expect(count > 800 && count < 1200, "\(owners)") }
    }

    @Test("a dead server's nodes go to the survivors once its leases expire, and only its nodes move")
    func failover() {
        let planner = LeasePlanner(me: servers[0], ttl: 6)
        var leases: [UUID: LeasePlanner.Lease] = [:]
        for node in nodes {
            let owner = LeasePlanner.owner(of: node, among: servers)!
            leases[node] = .init(server: owner, expiresAt: now.addingTimeInterval(6))
        }
        // Server 3 stops heartbeating; its leases still run: nobody takes them yet.
        let stale = [LeasePlanner.Server(id: servers[0], heartbeatAt: now), .init(id: servers[1], heartbeatAt: now),
                     .init(id: servers[2], heartbeatAt: now.addingTimeInterval(-7))]
        #expect(planner.plan(nodes: nodes, servers: stale, leases: leases, now: now).acquire.isEmpty)
        // After expiry, server 1 takes the dead server's nodes that hash to it, and nothing else.
        let later = now.addingTimeInterval(7)
        let dead = Set(nodes.filter { leases[$0]?.server == servers[2] })
        let taken = planner.plan(nodes: nodes, servers: stale.map { $0.id == servers[2] ? $0 : .init(id: $0.id, heartbeatAt: later) },
                                 leases: leases, now: later)
        #expect(!taken.acquire.isEmpty)
        #expect(Set(taken.acquire).isSubset(of: dead))
        #expect(taken.release.isEmpty, "the survivors' own nodes stay where they are")
    }

    @Test("a server joining takes about its share; the holders hand those nodes over")
    func rebalance() {
        let two = Array(servers.prefix(2))
        var leases: [UUID: LeasePlanner.Lease] = [:]
        for node in nodes { leases[node] = .init(server: LeasePlanner.owner(of: node, among: two)!, expiresAt: now.addingTimeInterval(6)) }
        let released = two.flatMap { LeasePlanner(me: $0, ttl: 6).plan(nodes: nodes, servers: fresh(servers), leases: leases, now: now).release }
        #expect(released.count > 800 && released.count < 1200)
        // The newcomer waits for the hand-over: it never takes a lease that is still held.
        let newcomer = LeasePlanner(me: servers[2], ttl: 6)
        #expect(newcomer.plan(nodes: nodes, servers: fresh(servers), leases: leases, now: now).acquire.isEmpty)
        for node in released { leases[node] = nil }
        #expect(Set(newcomer.plan(nodes: nodes, servers: fresh(servers), leases: leases, now: now).acquire) == Set(released))
    }

    @Test("the score is the same in every process: fixed ids give fixed scores (computed independently in Python)")
    func stable() {
        let node = UUID(uuidString: "6f1c3c36-54a8-4a57-9f5c-1d0f1f5d0a11")!
        #expect(LeasePlanner.score(servers[0], node) == 9_792_662_666_999_275_447)
        #expect(LeasePlanner.score(servers[1], node) == 17_211_505_202_339_494_999)
        #expect(LeasePlanner.score(servers[2], node) == 6_452_898_271_696_542_147)
        #expect(LeasePlanner.owner(of: node, among: servers) == servers[1])
        #expect(LeasePlanner.owner(of: node, among: servers.reversed()) == servers[1])
    }

    @Test("own leases of connectable nodes not managed here are strays to take over again; handed-over and managed ones are not")
    func strays() {
        let me = UUID(), other = UUID()
        let nodes = (0..<6).map { _ in UUID() }
        let later = Date().addingTimeInterval(6), earlier = Date().addingTimeInterval(-6)
        let leases: [UUID: LeasePlanner.Lease] = [
            nodes[0]: .init(server: me, expiresAt: later),     // managed: fine
            nodes[1]: .init(server: me, expiresAt: earlier),   // own, expired, not managed: stray
            nodes[2]: .init(server: me, expiresAt: later),     // own, not managed: stray
            nodes[3]: .init(server: other, expiresAt: later),  // another's
            nodes[4]: .init(server: me, expiresAt: later),     // being handed over
            nodes[5]: .init(server: me, expiresAt: later),     // not connectable (a deployment's, STOPPED)
        ]
        let planner = LeasePlanner(me: me, ttl: 6)
        let found = planner.strays(leases: leases, connectable: Set(nodes.prefix(5)), managed: [nodes[0]], releasing: [nodes[4]])
        #expect(Set(found) == [nodes[1], nodes[2]])
    }
}
