import ErlangDist
import ErlangTerm
import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// The node manager (seed 2.2 item 2): keeps one hidden distribution connection per managed
/// node, tracks UP/DOWN, and reconnects lost nodes on the `ReconnectSchedule`, forever while they
/// are DOWN. Every state change is stored and published as a `nodeStateChanged` event.
///
/// This is the master part and the one middle manager of the embedded server together; the
/// per-node work lives in `NodeSupervisor`.
public final class NodeManager: Sendable {
    public struct Settings: Sendable {
        public var reconnectInitial: Duration = .seconds(2)
        public var reconnectMaximum: Duration = .seconds(30)
        /// Bound on each rpc Numbat makes on its own behalf (node info, discovery).
        public var callTimeout: Duration = .seconds(10)
        public init() {}
    }

    public let local: LocalNode
    let store: any NodeStore & FamilyStore
    let bus: EventBus
    let settings: Settings
    let logger: Logger
    private let supervisors = NIOLockedValueBox<[UUID: NodeSupervisor]>([:])
    private let eventTask = NIOLockedValueBox<Task<Void, Never>?>(nil)

    public init(local: LocalNode, store: any NodeStore & FamilyStore, bus: EventBus, settings: Settings = Settings(), logger: Logger) {
        self.local = local
        self.store = store
        self.bus = bus
        self.settings = settings
        self.logger = logger
    }

    /// Starts watching connections and manages every stored node (after a restart they come
    /// back from the store and reconnect).
    public func start() async throws {
        let events = local.nodeEvents()
        eventTask.withLockedValue { task in
            task = Task { [weak self] in
                for await event in events {
                    guard let self, case .down(let name, let reason) = event else { continue }
                    self.supervisor(named: name)?.connectionLost(reason: reason)
                }
            }
        }
        for var node in try await store.nodes() where node.state == .up || node.state == .down {
            guard let cookie = try await store.cookie(forNode: node.id) else { continue }
            // A node stored UP was UP when the server last ran; until it is reconnected nobody
            // knows, so it starts DOWN and its supervisor brings it UP.
            if node.state == .up {
                node.state = .down
                node.lastError = "not reconnected since the server started"
                node.stateChangedAt = Date()
                try await store.updateNode(node)
            }
            manage(node, cookie: cookie)
        }
    }

    /// Closes every connection and stops every supervisor.
    public func stop() async {
        let all = supervisors.withLockedValue { all -> [NodeSupervisor] in
            defer { all = [:] }
            return Array(all.values)
        }
        for supervisor in all { await supervisor.stop() }
        eventTask.withLockedValue { $0?.cancel() }
    }

    /// Starts managing `node`: connects (or keeps the connection made while adding it) and
    /// watches it from now on.
    public func manage(_ node: ManagedNode, cookie: String) {
        guard let name = try? NodeName(node.name) else { return }
        local.setCookie(cookie, for: name)
        let supervisor = NodeSupervisor(node: node, name: name, manager: self)
        let previous = supervisors.withLockedValue { all -> NodeSupervisor? in
            defer { all[node.id] = supervisor }
            return all[node.id]
        }
        previous?.cancel()
        supervisor.start()
    }

    /// Stops managing the node: its supervisor ends and its connection closes. The node itself
    /// keeps running.
    public func unmanage(_ id: UUID) async {
        guard let supervisor = supervisors.withLockedValue({ $0.removeValue(forKey: id) }) else { return }
        await supervisor.stop()
        local.removeCookie(for: supervisor.name)
    }

    /// Calls a function on a managed node.
    public func rpc(_ node: ManagedNode, _ module: Atom, _ function: Atom, _ arguments: [Term] = [],
                    timeout: Duration? = nil) async throws -> Term
    {
        try await local.rpc(try NodeName(node.name), module, function, arguments, timeout: timeout ?? settings.callTimeout)
    }

    /// Connects to a node that is not managed yet, with `cookie`, and reads its info: how
    /// Topology checks a node before storing it. The connection stays open for `manage`.
    public func probe(_ name: NodeName, cookie: String) async throws(DistributionError) -> NodeInfo {
        local.setCookie(cookie, for: name)
        do {
            try await local.connect(to: name)
            return try await NodeInfo.fetch(from: local, node: name, timeout: settings.callTimeout)
        } catch let error as DistributionError {
            if supervisor(named: name) == nil { local.removeCookie(for: name) }
            throw error
        } catch {
            throw .connectionFailed(name, reason: "\(error)")
        }
    }

    /// Counts for tests and the dashboard.
    public var managedCount: Int { supervisors.withLockedValue { $0.count } }

    func supervisor(named name: NodeName) -> NodeSupervisor? {
        supervisors.withLockedValue { all in all.values.first { $0.name == name } }
    }

    /// Stores `node` in its new state and publishes the change.
    func record(_ node: ManagedNode, from previous: NodeState) async {
        do {
            try await store.updateNode(node)
        } catch {
            logger.error("cannot store node state", metadata: ["node": "\(node.name)", "error": "\(error)"])
        }
        if node.state != previous {
            logger.info("node \(node.state.rawValue)", metadata: ["node": "\(node.name)", "reason": "\(node.lastError ?? "")"])
            bus.publish(.nodeStateChanged(node: node, from: previous))
        }
    }

    /// The automatic family for `info`, publishing it if new.
    func family(for info: NodeInfo) async throws -> NodeFamily {
        let (family, created) = try await store.automaticFamily(bootScript: info.bootScript)
        if created { bus.publish(.familyCreated(family)) }
        return family
    }
}
