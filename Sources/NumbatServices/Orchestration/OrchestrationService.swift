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
        /// How long a node switched by a rolling upgrade may take to pass its checks (UP,
        /// rejoined, running the new version) before it is rolled back.
        public var upgradeCheckTimeout: Duration = .seconds(90)
        /// How physical hosts without a key of Numbat's are reached (OpenSSH's client).
        public var openSSH = OpenSSHSettings()
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
    /// Running deployments and resumed node actions, by node, so a delete or a shutdown waits
    /// for them and a hand-over reaches them (`OrchestrationService+Jobs.swift`).
    let running = NIOLockedValueBox<[UUID: Job]>([:])
    /// One Libcloud bridge process per Libcloud provider, started on first use.
    let bridges = NIOLockedValueBox<[UUID: LibcloudBridge]>([:])
    /// Rolling upgrades running on this server, by upgrade id (`OrchestrationService+Upgrades.swift`).
    let upgrades = NIOLockedValueBox<[UUID: Task<Void, Never>]>([:])

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
        // No job runs here yet: a deployment that names this server as its runner was cut short
        // by this server's previous run. Left for whoever holds its node (this server, or another
        // that waits for the runner to let go) to resume.
        for var deployment in try await records.all(DeploymentRecord.self) where deployment.runner == me {
            deployment.runner = nil
            try await records.save(deployment)
        }
        // From now on the node manager hands this service the nodes this server holds, and with
        // them the deployments and node actions left unfinished (`takeOver`).
        await context.nodes.attach(self)
        try await resumeUpgrades()
    }

    public func stop() async {
        // Stopped jobs leave their step recorded and no runner: the node's next holder (or this
        // server when it starts again) resumes them.
        context.nodes.detachJobs()
        let tasks = running.withLockedValue { $0.values.map(\.task) } + upgrades.withLockedValue { $0.values.map { $0 } }
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
