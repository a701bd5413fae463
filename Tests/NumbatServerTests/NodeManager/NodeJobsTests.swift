import ErlangDist
import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore
@testable import NumbatServices
import NumbatStore
import Testing

/// The node manager hands a node's work (`NodeJobs`: orchestration's deployments and node
/// actions) over and takes it over together with the node (issue 13): what it adopts goes to the
/// work's owner, before it is attached too; what it releases is handed over; work running here
/// counts as managed, so its lease is claimed and kept. A real node manager on a real (SQLite)
/// store; the nodes are deployments' (UNINIT, STOPPED), so nothing connects.
@Suite("node work taken over and handed over with the node")
struct NodeJobsTests {
    final class Recording: NodeJobs, @unchecked Sendable {
        private let state = NIOLockedValueBox((taken: [[UUID]](), handed: [[UUID]](), running: Set<UUID>()))
        var runningNodes: Set<UUID> { state.withLockedValue { $0.running } }
        func takeOver(_ ids: [UUID]) async { state.withLockedValue { $0.taken.append(ids.sorted { $0.uuidString < $1.uuidString }) } }
        func handOver(_ ids: [UUID]) { state.withLockedValue { $0.handed.append(ids) } }
        var taken: [[UUID]] { state.withLockedValue { $0.taken } }
        var handed: [[UUID]] { state.withLockedValue { $0.handed } }
        func run(_ ids: Set<UUID>) { state.withLockedValue { $0.running = ids } }
    }

    /// Runs `body` with a node manager on a fresh store holding `nodes`, started as a cluster
    /// member or a lone server; then stops it, closes the store and removes its directory, in
    /// that order (a store still open when its directory goes may write it back).
    static func withManager(nodes: [ManagedNode], restoring: Bool, _ body: (NodeManager) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-jobs-\(UUID().uuidString)")
        let store = try SQLiteStore(directory: directory)
        let local = try LocalNode(.init(name: "jobs\(UInt32.random(in: 0...UInt32.max))", cookie: "c"))
        let manager = NodeManager(local: local, store: store, bus: EventBus(), logger: Logger(label: "test"))
        func tearDown() async {
            await manager.stop()
            await local.shutdown()
            try? store.close()
            try? FileManager.default.removeItem(at: directory)
        }
        do {
            _ = try await store.prepare()
            for node in nodes { try await store.insertNode(node, credentials: NodeCredentials(cookie: "c")) }
            try await manager.start(restoring: restoring)
            try await body(manager)
        } catch {
            await tearDown()
            throw error
        }
        await tearDown()
    }

    static func deployed(_ state: NodeState) -> ManagedNode {
        let id = UUID()
        return ManagedNode(id: id, name: "\(id.uuidString.lowercased())@pending", state: state, host: "")
    }

    @Test("in a cluster: nodes adopted before the work is attached are handed to it then (less those released since); later adoptions and releases as they come; work running here is managed")
    func cluster() async throws {
        let nodes = [Self.deployed(.uninit), Self.deployed(.stopped), Self.deployed(.uninit), Self.deployed(.error)]
        let ids = nodes.map(\.id)
        try await Self.withManager(nodes: nodes, restoring: false) { manager in

            await manager.adopt([ids[0], ids[1]])
            await manager.release([ids[1]])
            let jobs = Recording()
            await manager.attach(jobs)
            #expect(jobs.taken == [[ids[0]]], "adopted before, and not released since")
            #expect(jobs.handed.isEmpty, "nothing handed over before it was attached")

            await manager.adopt([ids[2], ids[3], UUID()])
            #expect(jobs.taken.last == [ids[2], ids[3]].sorted { $0.uuidString < $1.uuidString }, "a node not stored is not taken")
            await manager.release([ids[2]])
            #expect(jobs.handed == [[ids[2]]])

            #expect(manager.managedIDs.isEmpty, "a deployment's nodes are not connected")
            jobs.run([ids[0]])
            #expect(manager.managedIDs == [ids[0]], "a node whose work runs here is this server's")
            manager.detachJobs()
            #expect(manager.managedIDs.isEmpty)
        }
    }

    @Test("a lone server hands every stored node to the work when it is attached (its work cut short by a restart is resumed)")
    func loneServer() async throws {
        let nodes = [Self.deployed(.uninit), Self.deployed(.stopped)]
        try await Self.withManager(nodes: nodes, restoring: true) { manager in
            let jobs = Recording()
            await manager.attach(jobs)
            #expect(jobs.taken == [nodes.map(\.id).sorted { $0.uuidString < $1.uuidString }])
        }
    }

    @Test("a node taken over gets a fresh lifecycle from its stored row: the previous holder's renames and steps are what later steps build on")
    func adoptedFromStore() async throws {
        let node = Self.deployed(.uninit)
        try await Self.withManager(nodes: [node], restoring: false) { manager in
            // Another server renamed it and moved it on meanwhile (written here straight to the store).
            var moved = node
            moved.name = "\(node.id.uuidString.lowercased())@10.0.0.9"
            moved.host = "10.0.0.9"
            moved.state = .stopped
            try await manager.store.updateNode(moved)
            await manager.adopt([node.id])
            // The next step starts from the stored row, not from this server's old copy.
            try await manager.setDeploymentState(node.id, .error, message: "starting: refused")
            let stored = try #require(try await manager.store.node(id: node.id))
            #expect(stored.name == moved.name && stored.host == "10.0.0.9" && stored.state == .error && stored.lastError == "starting: refused")
        }
    }
}
