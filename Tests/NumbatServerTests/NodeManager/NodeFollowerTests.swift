import ErlangDist
import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore
@testable import NumbatServices
import NumbatStore
import NumbatTestSupport
import Testing

/// What a service with per-node workers is told at its start: the nodes UP now, connected, not
/// those the store says are UP. A real node manager on a real (SQLite) store, a real OTP node.
@Suite("node follower")
struct NodeFollowerTests {
    /// A node stored UP and taken over (as from another server of a cluster) is being
    /// reconnected: its node is frozen (SIGSTOP), so the handshake waits. A worker started for it
    /// now would find no connection and fall back (the log and alarm agents for good), and its
    /// UP event, later, would find a worker already there.
    @Test("a node stored UP but still being reconnected is not reported UP until it is connected")
    func storedUpIsNotUp() async throws {
        try await TestNode.with(release: .otp25, cookie: "follower-cookie") { peer in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-follower-\(UUID().uuidString)")
            let store = try SQLiteStore(directory: directory)
            _ = try await store.prepare()
            let node = ManagedNode(name: peer.name.description, state: .up, host: peer.name.host, otpRelease: "25")
            try await store.insertNode(node, credentials: NodeCredentials(cookie: peer.cookie))
            let local = try LocalNode(.init(name: "follower\(UInt32.random(in: 0...UInt32.max))", cookie: "unused"))
            let bus = EventBus()
            let manager = NodeManager(local: local, store: store, bus: bus, logger: Logger(label: "test"))
            try await manager.start(restoring: false)
            let follower = NodeFollower()
            do {
                try await Self.takeOverFrozen(peer, node: node, manager: manager, bus: bus, follower: follower)
            } catch {
                await Self.tearDown(follower, manager, local, store, directory)
                throw error
            }
            await Self.tearDown(follower, manager, local, store, directory)
        }
    }

    /// Stops the follower, the manager and the node, closes the store, then removes its
    /// directory: nothing is left behind, nothing written after the removal.
    static func tearDown(_ follower: NodeFollower, _ manager: NodeManager, _ local: LocalNode, _ store: SQLiteStore, _ directory: URL) async {
        await follower.stop()
        await manager.stop()
        await local.shutdown()
        try? store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    static func takeOverFrozen(_ peer: TestNode, node: ManagedNode, manager: NodeManager, bus: EventBus, follower: NodeFollower) async throws {
        peer.freeze()
        await manager.adopt([node.id])
        #expect(manager.managedIDs == [node.id], "taken over: managed here, being connected")
        let changes = NIOLockedValueBox<[NodeChange]>([])
        await follower.follow(bus, manager: manager) { change in changes.withLockedValue { $0.append(change) } }
        #expect(changes.withLockedValue { $0 }.isEmpty, "reported before it was connected: \(changes.withLockedValue { $0 })")

        peer.thaw()
        var reported = false
        for _ in 0..<300 where !reported {
            reported = changes.withLockedValue { $0 }.contains { if case .up(let up, _) = $0 { up.id == node.id } else { false } }
            if !reported { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(reported, "not reported UP once connected: \(changes.withLockedValue { $0 })")
    }

    /// A restart of thousands of nodes publishes thousands of UP events at once; a service
    /// that lost some never started those nodes' agents. The bus here keeps 16 events for a
    /// slow reader; 2,000 node changes are published in one go, faster than any reader.
    @Test("node changes are never dropped, however many come at once and however small the bus's buffer")
    func noChangeLost() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-follower-\(UUID().uuidString)")
        let store = try SQLiteStore(directory: directory)
        _ = try await store.prepare()
        let local = try LocalNode(.init(name: "follower\(UInt32.random(in: 0...UInt32.max))", cookie: "unused"))
        let bus = EventBus(bufferSize: 16)
        let manager = NodeManager(local: local, store: store, bus: bus, logger: Logger(label: "test"))
        try await manager.start(restoring: false)
        let follower = NodeFollower()
        do {
            try await Self.publishMany(bus: bus, manager: manager, follower: follower)
        } catch {
            await Self.tearDown(follower, manager, local, store, directory)
            throw error
        }
        await Self.tearDown(follower, manager, local, store, directory)
    }

    static func publishMany(bus: EventBus, manager: NodeManager, follower: NodeFollower) async throws {
        let seen = NIOLockedValueBox<Set<UUID>>([])
        await follower.follow(bus, manager: manager) { change in
            if case .up(let node, _) = change { seen.withLockedValue { _ = $0.insert(node.id) } }
            await Task.yield()
        }
        let nodes = (0..<2000).map { ManagedNode(name: "n\($0)@127.0.0.1", state: .up, host: "127.0.0.1") }
        for node in nodes { bus.publish(.nodeStateChanged(node: node, from: .down)) }
        var all = false
        for _ in 0..<600 where !all {
            all = seen.withLockedValue { $0.count } == nodes.count
            if !all { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(seen.withLockedValue { $0 } == Set(nodes.map(\.id)), "\(seen.withLockedValue { $0.count }) of \(nodes.count) changes seen")
    }
}
