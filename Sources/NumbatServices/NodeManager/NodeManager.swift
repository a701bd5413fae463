import ErlangDist
import ErlangTerm
import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// The node manager (seed 2.2 item 2): the one owner of managed nodes' state. It keeps one
/// hidden distribution connection per managed node, tracks UP/DOWN, reconnects lost nodes on the
/// `ReconnectSchedule` forever while they are DOWN, and moves deployed nodes through the states
/// orchestration reports. Each node's state is decided by its pure `NodeLifecycle`; the node's
/// `NodeSupervisor` stores and publishes what it decides. No other part of Numbat writes a node.
///
/// This is the master part and the one middle manager of the embedded server together.
public final class NodeManager: Sendable {
    public struct Settings: Sendable {
        public var reconnectInitial: Duration = .seconds(2)
        public var reconnectMaximum: Duration = .seconds(30)
        /// Bound on each rpc Numbat makes on its own behalf (node info, discovery).
        public var callTimeout: Duration = .seconds(10)
        public init() {}
    }

    public let local: LocalNode
    /// The only handle on the store that writes nodes.
    let store: any NodeStore & FamilyStore
    let bus: EventBus
    let settings: Settings
    let logger: Logger
    private let nodes = NIOLockedValueBox(Registry())
    /// Families' TLS settings as last read from the store (`NodeManager+TLS`).
    let familyTLS = NIOLockedValueBox(FamilyTLSCache())
    private let eventTask = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// The work other services run per node (`NodeJobs`), and what this server took before that
    /// work was attached.
    let jobs = NIOLockedValueBox(JobsState())

    struct JobsState {
        var handler: (any NodeJobs)?
        /// Every stored node is this server's (a lone server), rather than those it adopts.
        var restoring = true
        /// Nodes adopted, and not released since, before `attach` (the cluster service takes
        /// leases before orchestration starts).
        var pending: Set<UUID> = []
    }

    /// The supervisors by node id, and by node name for the connection's reports.
    private struct Registry {
        var byID: [UUID: NodeSupervisor] = [:]
        var byName: [String: UUID] = [:]
        /// Each node's key in `byName`, so that renaming or forgetting one node does not scan
        /// them all (a takeover forgets thousands at once).
        var names: [UUID: String] = [:]

        /// Files `id` under `name` (nil: under no name), dropping its previous name.
        mutating func name(_ id: UUID, _ name: String?) {
            if let old = names[id], byName[old] == id { byName[old] = nil }
            names[id] = name
            if let name { byName[name] = id }
        }
    }

    public init(local: LocalNode, store: any NodeStore & FamilyStore, bus: EventBus, settings: Settings = Settings(), logger: Logger) {
        self.local = local
        self.store = store
        self.bus = bus
        self.settings = settings
        self.logger = logger
    }

    /// Starts watching connections and takes over every stored node: those UP or DOWN when the
    /// server last ran are reconnected.
    /// In a cluster (`restoring: false`) nodes are taken over by lease instead (`adopt`).
    public func start(restoring: Bool = true) async throws {
        jobs.withLockedValue { $0.restoring = restoring }
        let events = local.nodeEvents()
        eventTask.withLockedValue { task in
            task = Task { [weak self] in
                for await event in events {
                    guard let self, case .down(let name, let reason) = event else { continue }
                    self.supervisor(named: name.description)?.post(.lost(reason: reason))
                }
            }
        }
        try await loadFamilyTLS()
        for (node, credentials) in try await store.nodesWithCredentials(nil) {
            let supervisor = register(NodeLifecycle(node: node, schedule: schedule, phase: .idle), credentials: credentials)
            if restoring { supervisor.post(.restored) }
        }
    }

    /// Closes every connection and stops every supervisor.
    public func stop() async {
        eventTask.withLockedValue { $0?.cancel() }
        let all = nodes.withLockedValue { registry -> [NodeSupervisor] in
            defer { registry = Registry() }
            return Array(registry.byID.values)
        }
        for supervisor in all { await supervisor.stop() }
    }

    // MARK: Adding and removing

    /// Adds the running node `name`: connects with `cookie`, reads its release and boot script
    /// (one probe: two rpcs), files it in its boot script's automatic family, stores it UP once
    /// and publishes one `node_up`; from then on it is managed like every other node. A node
    /// with a `port` runs without EPMD and is always reached on that port; one with TLS settings
    /// over TLS distribution. Nothing is stored unless the node answers.
    public func add(_ name: NodeName, credentials: NodeCredentials, port: Int? = nil, discoveredFrom: UUID? = nil) async throws(AddError) -> ManagedNode {
        let placeholder = ManagedNode(name: name.description, state: .uninit, host: name.host, port: port, discoveredFrom: discoveredFrom)
        // Registered before connecting, so a loss during the probe is not missed.
        guard let supervisor = register(NodeLifecycle(node: placeholder, schedule: schedule), credentials: credentials, ifNameFree: true) else {
            throw .exists(name)
        }
        do throws(AddError) {
            let info: NodeInfo
            do {
                try await prepareConnection(to: name, port: port, credentials: credentials, familyID: nil)
                try await local.connect(to: name)
                info = try await NodeInfo.fetch(from: local, node: name, timeout: settings.callTimeout)
            } catch let error as DistributionError {
                throw AddError.unreachable(error)
            } catch {
                throw AddError.unreachable(.connectionFailed(name, reason: "\(error)"))
            }
            var node = placeholder
            do {
                node.familyID = try await automaticFamily(for: info).id
            } catch {
                throw AddError.store(error)
            }
            node.otpRelease = info.otpRelease
            node.bootScript = info.bootScript
            node.stateChangedAt = Date()
            do {
                try await supervisor.send(.probed(node))
            } catch {
                throw AddError.store(error)
            }
            return supervisor.node
        } catch {
            await forget(supervisor)
            forgetConnection(to: name)
            if case .store = error { await local.disconnect(name) }
            throw error
        }
    }

    /// Why a node could not be added.
    public enum AddError: Error {
        case exists(NodeName)
        case unreachable(DistributionError)
        case store(any Error)
    }

    /// Files a node deployment is about to create (see `addPlanned`).
    func plan(_ node: ManagedNode, credentials: NodeCredentials) async throws {
        guard let supervisor = register(NodeLifecycle(node: node, schedule: schedule), credentials: credentials, ifNameFree: true) else {
            throw NumbatError.conflict("node_exists", "\(node.name) is already managed")
        }
        do {
            try await supervisor.send(.planned(node))
        } catch {
            await forget(supervisor)
            throw error
        }
    }

    /// Stops managing the node and forgets it. Returns the node as it was, nil if unknown.
    func removeNode(_ id: UUID) async throws -> ManagedNode? {
        let supervisor = try await supervisor(id: id)
        let node = supervisor.node
        try await supervisor.send(.removed)
        await forget(supervisor)
        if let name = try? NodeName(node.name), self.supervisor(named: name.description) == nil {
            forgetConnection(to: name)
        }
        return node
    }

    /// Closes the node's connection and stops reconnecting; the node stays stored as it is.
    public func unmanage(_ id: UUID) async {
        guard let supervisor = try? await supervisor(id: id) else { return }
        await supervisor.letGo()
    }

    /// Calls a function on a managed node.
    public func rpc(_ node: ManagedNode, _ module: Atom, _ function: Atom, _ arguments: [Term] = [],
                    timeout: Duration? = nil) async throws -> Term
    {
        try await local.rpc(try NodeName(node.name), module, function, arguments, timeout: timeout ?? settings.callTimeout)
    }

    /// The event loop of the connection to the node named `name` as a task executor, while it is
    /// connected (`LocalNode.taskExecutor(for:)`): what a node's per-node parts prefer.
    public func taskExecutor(for name: String) -> EventLoopTaskExecutor? {
        (try? NodeName(name)).flatMap { local.taskExecutor(for: $0) }
    }

    /// An inbox for a per-node part's messages, drained on the node's event loop while it is
    /// connected (`SerialInbox`; not started).
    func serialInbox<Element: Sendable>(near node: ManagedNode, of _: Element.Type = Element.self) -> SerialInbox<Element> {
        SerialInbox { [local] in (try? NodeName(node.name)).flatMap { local.taskExecutor(for: $0) } }
    }

    /// Work a per-node part repeats, with a timer on the node's event loop between runs, its
    /// phase among `group`'s (`PeriodicWork`; not started).
    func periodicWork(near node: ManagedNode, in group: PeriodicWorkGroup) -> PeriodicWork {
        PeriodicWork(node: node.id, group: group) { [local] in
            let executor = (try? NodeName(node.name)).flatMap { local.taskExecutor(for: $0) }
            return (executor, executor?.eventLoop ?? local.eventLoopGroup.next())
        }
    }

    /// Calls a function on a managed node and reads the reply in place (`LocalNode.rpcFlat`).
    public func rpcFlat(_ node: ManagedNode, _ module: Atom, _ function: Atom, _ arguments: [Term] = [],
                        timeout: Duration? = nil) async throws -> FlatTerm.Element
    {
        try await local.rpcFlat(try NodeName(node.name), module, function, arguments, timeout: timeout ?? settings.callTimeout)
    }

    /// The nodes the manager holds a connection to (or is trying to), for `/api/health`.
    public var managedCount: Int {
        supervisors.filter(\.isManaged).count
    }

    // MARK: For the lifecycle's shell and extensions

    /// Hands `event` to the node's lifecycle and waits until it is carried out.
    func apply(_ event: NodeLifecycle.Event, to id: UUID) async throws {
        let supervisor = try await supervisor(id: id)
        try await supervisor.send(event)
        if case .renamed(let name, _) = event { rename(id, to: name) }
    }

    /// The automatic family for `info`, publishing it if new.
    func automaticFamily(for info: NodeInfo) async throws -> NodeFamily {
        let (family, created) = try await store.automaticFamily(bootScript: info.bootScript)
        if created { bus.publish(.familyCreated(family)) }
        return family
    }

    /// The family a reconnected node belongs to now: a node whose boot script changed (upgraded
    /// release) moves to that script's automatic family; deployment families keep their nodes.
    func familyID(for node: ManagedNode, info: NodeInfo) async throws -> UUID? {
        let current = try await node.familyID.asyncMap { try await store.family(id: $0) } ?? nil
        if let current, current.kind != .automatic { return current.id }
        return try await automaticFamily(for: info).id
    }

    var schedule: ReconnectSchedule {
        ReconnectSchedule(initial: settings.reconnectInitial, maximum: settings.reconnectMaximum)
    }

    var supervisors: [NodeSupervisor] { nodes.withLockedValue { Array($0.byID.values) } }

    /// Replaces a node's idle supervisor by one for `lifecycle`; nil (and nothing replaced) if
    /// the node is managed here already.
    func replaceIdle(with lifecycle: NodeLifecycle, credentials: NodeCredentials) async -> NodeSupervisor? {
        if let current = nodes.withLockedValue({ $0.byID[lifecycle.node.id] }) {
            guard !current.isManaged else { return nil }
            await forget(current)
        }
        return register(lifecycle, credentials: credentials)
    }

    private func supervisor(named name: String) -> NodeSupervisor? {
        nodes.withLockedValue { registry in registry.byName[name].flatMap { registry.byID[$0] } }
    }

    /// The node's supervisor; a node stored after the manager started (none should be) is
    /// taken over as it is.
    func supervisor(id: UUID) async throws -> NodeSupervisor {
        if let supervisor = nodes.withLockedValue({ $0.byID[id] }) { return supervisor }
        guard let node = try await store.node(id: id) else {
            throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
        }
        let credentials = try await store.credentials(forNode: id) ?? NodeCredentials(cookie: "")
        return register(NodeLifecycle(node: node, schedule: schedule, phase: .idle), credentials: credentials)
    }

    /// Registers a supervisor; with `ifNameFree`, only if no node has its name (nil otherwise).
    private func register(_ lifecycle: NodeLifecycle, credentials: NodeCredentials, ifNameFree: Bool = false) -> NodeSupervisor? {
        let node = lifecycle.node
        return nodes.withLockedValue { registry -> NodeSupervisor? in
            if let existing = registry.byID[node.id] { return ifNameFree ? nil : existing }
            if ifNameFree, registry.byName[node.name] != nil { return nil }
            let supervisor = NodeSupervisor(lifecycle: lifecycle, credentials: credentials, manager: self)
            registry.byID[node.id] = supervisor
            registry.name(node.id, node.name)
            return supervisor
        }
    }

    @discardableResult
    private func register(_ lifecycle: NodeLifecycle, credentials: NodeCredentials) -> NodeSupervisor {
        register(lifecycle, credentials: credentials, ifNameFree: false)!
    }

    private func rename(_ id: UUID, to name: String) {
        nodes.withLockedValue { $0.name(id, name) }
    }

    private func forget(_ supervisor: NodeSupervisor) async {
        nodes.withLockedValue { registry in
            registry.byID[supervisor.id] = nil
            registry.name(supervisor.id, nil)
        }
        await supervisor.stop()
    }
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
