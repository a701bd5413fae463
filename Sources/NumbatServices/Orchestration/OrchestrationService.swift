import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatCore
import NumbatProviders

/// The orchestration service (seed 3.1, 4.1): providers, releases, deployment families with
/// their domains and firewall rules, and the deployment of nodes onto them. The master part
/// (records, providers, limits) is here; each node's deployment is a `NodeDeployment`.
public final class OrchestrationService: NumbatService, Sendable {
    public struct Settings: Sendable {
        /// Nodes deployed at once, over all requests: SSH logins, uploads and starts are the cost.
        public var concurrency = 16
        /// How long a started node may take to come UP before it is marked ERROR.
        public var upTimeout: Duration = .seconds(90)
        public init() {}
    }

    public var name: String { "orchestration" }
    let context: ServiceContext
    let records: OrchestrationRecords
    let settings: Settings
    /// Uploaded release archives: `<data>/releases/<id>.tar.gz`.
    let releaseDirectory: URL
    let limit: ConcurrencyLimit
    /// Nodes of a family bootstrap one at a time; nodes of a physical provider are placed one at a time.
    let bootstrapLocks = FamilyLocks()
    let placementLocks = FamilyLocks()
    /// Running deployments and node actions, by node, so a delete waits for them.
    let running = NIOLockedValueBox<[UUID: Task<Void, Never>]>([:])
    /// One Libcloud bridge process per Libcloud provider, started on first use.
    let bridges = NIOLockedValueBox<[UUID: LibcloudBridge]>([:])

    var store: any NodeReader & FamilyStore & TokenStore { context.store }
    var logger: Logger { context.logger }

    public init(context: ServiceContext, store: any OrchestrationStore, dataDirectory: URL, settings: Settings = Settings()) {
        self.context = context
        self.records = OrchestrationRecords(store: store)
        self.settings = settings
        self.releaseDirectory = dataDirectory.appendingPathComponent("releases")
        self.limit = ConcurrencyLimit(settings.concurrency)
    }

    public func start() async throws {
        context.familyDeletion.register { [weak self] id in
            guard let self, let family = try await self.store.family(id: id), family.kind == .deployment, !family.deleted else { return }
            try await self.removeDeploymentPlan(of: family)
        }
        try FileManager.default.createDirectory(at: releaseDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // A deployment cut short by a restart cannot be resumed safely: mark it failed, so the
        // user sees it and deletes it (which cleans up whatever it had made).
        for var deployment in try await records.all(DeploymentRecord.self) where !deployment.step.isSettled {
            guard let node = try await store.node(id: deployment.id), node.state == .uninit || node.state == .stopped else { continue }
            deployment.message = "the server stopped during \(deployment.step.rawValue)"
            deployment.step = .failed
            try await records.save(deployment)
            try await context.nodes.setDeploymentState(deployment.id, .error, message: deployment.message)
        }
    }

    public func stop() async {
        let tasks = running.withLockedValue { Array($0.values) }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for bridge in bridges.withLockedValue({ bridges in defer { bridges.removeAll() }; return Array(bridges.values) }) {
            await bridge.close()
        }
    }

    // MARK: Providers

    /// The provider behind a record, with its secret.
    func provider(_ record: ProviderRecord) async throws -> any InfrastructureProvider {
        let secret = try await records.secrets(of: ProviderRecord.self, id: record.id)[type(of: record.configuration.settings).secretField]
        return record.configuration.building.provider(id: record.id, secret: secret, service: self)
    }

    /// The provider's bridge process: one per provider, so a driver that keeps state in the
    /// process (Libcloud's dummy driver) sees every call.
    func bridge(for id: UUID, _ make: () -> LibcloudBridge) -> LibcloudBridge {
        bridges.withLockedValue { bridges in
            if let bridge = bridges[id] { return bridge }
            let bridge = make()
            bridges[id] = bridge
            return bridge
        }
    }

    /// Stops a removed provider's bridge.
    func closeBridge(of id: UUID) async {
        await bridges.withLockedValue { $0.removeValue(forKey: id) }?.close()
    }

    /// The key Numbat logs in with on a domain's machines: a physical provider's own key (which
    /// the hosts' authorized_keys hold), or the family's key, which clouds put on new instances.
    func loginKey(provider: ProviderRecord, familyID: UUID) async throws -> SSHKeyPair {
        let raw: String?
        if provider.kind == .physical {
            raw = try await records.secrets(of: ProviderRecord.self, id: provider.id)["private_key"]
        } else {
            raw = try await records.secrets(of: FamilyPlan.self, id: familyID)["private_key"]
        }
        guard let raw else { throw NumbatError(.internalError, "key_missing", "the SSH key for \(provider.name) is missing from the store") }
        return try SSHKeyPair(openSSHPrivateKey: raw)
    }

    /// The family's plan, made (with a new key pair) on first use.
    func plan(for familyID: UUID) async throws -> FamilyPlan {
        if let plan = try await records.load(FamilyPlan.self, id: familyID) { return plan }
        let key = SSHKeyPair.generate(comment: "numbat-family-\(familyID.uuidString.lowercased())")
        let plan = FamilyPlan(id: familyID, releaseID: nil, firewall: [], publicKey: key.authorizedKey)
        try await records.save(plan)
        try await records.setSecrets(of: FamilyPlan.self, id: familyID, ["private_key": key.openSSHPrivateKey])
        return plan
    }

    /// A deployment family, or a clear 404/409.
    func deploymentFamily(_ id: UUID) async throws -> NodeFamily {
        guard let family = try await store.family(id: id), !family.deleted else {
            throw NumbatError.notFound("family_not_found", "no node family has id \(id.uuidString.lowercased())")
        }
        guard family.kind == .deployment else {
            throw NumbatError.conflict("family_not_deployable", "\(family.name) is an automatic family of running nodes; create a family with POST /api/topo/node_families to deploy")
        }
        return family
    }

    /// Registers a node's running work so deletes and shutdown can wait for it.
    func track(_ nodeID: UUID, _ work: @escaping @Sendable () async -> Void) {
        let task = Task {
            await work()
        }
        running.withLockedValue { $0[nodeID] = task }
        Task {
            await task.value
            running.withLockedValue { if $0[nodeID] == task { $0[nodeID] = nil } }
        }
    }

    func publish(_ progress: DeploymentProgress) {
        context.bus.publish(.deployment(progress))
    }
}

/// At most `limit` holders at once; the others wait in order.
actor ConcurrencyLimit {
    private let limit: Int
    private var holders = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if holders < limit {
            holders += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { holders -= 1 } else { waiting.removeFirst().resume() }
    }

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        await acquire()
        defer { Task { await self.release() } }
        return try await body()
    }
}

/// One holder per key (a family, a provider) at a time: nodes bootstrap one after another, so
/// the first to finish seeds the cluster and every later one joins a node already in it.
actor FamilyLocks {
    private var busy: Set<UUID> = []
    private var waiting: [UUID: [CheckedContinuation<Void, Never>]] = [:]

    func withLock<T: Sendable>(_ family: UUID, _ body: @Sendable () async throws -> T) async rethrows -> T {
        if busy.contains(family) {
            await withCheckedContinuation { waiting[family, default: []].append($0) }
        } else {
            busy.insert(family)
        }
        defer { Task { await self.unlock(family) } }
        return try await body()
    }

    private func unlock(_ family: UUID) {
        if var queue = waiting[family], !queue.isEmpty {
            queue.removeFirst().resume()
            waiting[family] = queue.isEmpty ? nil : queue
        } else {
            busy.remove(family)
        }
    }
}
