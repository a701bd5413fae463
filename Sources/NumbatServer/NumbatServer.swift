import ErlangDist
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NumbatCore
import NumbatProviders
import NumbatServices
import NumbatStore
import ServiceLifecycle

/// One Numbat server: the store, the hidden node, the event bus, the services in start order,
/// and the HTTP/WebSocket front. `numbat serve` runs one; tests build one per test.
public final class NumbatServer: Sendable {
    public let configuration: ServerConfiguration
    /// The embedded SQLite store or the shared PostgreSQL one (`ServerConfiguration.store`).
    public let store: any NumbatStorage
    public let bus: EventBus
    public let nodes: NodeManager
    /// The managed nodes and families (the `nodes` MCP tool reads them here).
    public let topology: TopologyService
    /// In start order: the node manager first, as every other service talks to nodes through it.
    public let services: [any NumbatService]
    public let metrics: MetricsService
    public let notifications: NotificationsService
    public let alarms: AlarmsService
    /// Each family's connectivity and its `partition` alarm.
    public let partitions: PartitionsService
    public let commands: CommandsService
    /// Bounded trace sessions on nodes and families (`TracingService`).
    public let tracing: TracingService
    public let orchestration: OrchestrationService
    /// Alert routing: alarm events to webhooks, Alertmanager and email (`AlertsService`).
    public let alerts: AlertsService
    /// The cluster service, when the store is shared by several servers (PostgreSQL): leases
    /// decide which of them manages each node. Nil on the embedded store: one server, every node.
    public let cluster: ClusterService?
    /// In a cluster: carries this server's events to the others' WebSocket clients and theirs to
    /// this one's (`ClusterEventRelay`).
    public let clusterEvents: ClusterEventRelay?
    let logger: Logger
    /// Retries of recording this server's API address, stopped with the server.
    private let announcement = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// Gives malloc's free pages back to the system every minute, stopped with the server.
    private let heapTrimming = NIOLockedValueBox<Task<Void, Never>?>(nil)

    public init(configuration: ServerConfiguration, logger: Logger? = nil) throws {
        var logger = logger ?? Logger(label: "numbat")
        logger.logLevel = configuration.logLevel
        self.configuration = configuration
        self.logger = logger
        store = try configuration.store.open(directory: URL(fileURLWithPath: configuration.dataDirectory), logger: logger)
        bus = EventBus()
        // Managed nodes each get their own cookie (`setCookie`); this one is never used to dial.
        var distribution = LocalNode.Configuration(name: configuration.nodeName, cookie: APIToken.generateSecret())
        // Only the node manager connects to a node (its lifecycle decides when): a node handed
        // over to another server, or DOWN, is never dialled again by some collection still
        // running here.
        distribution.autoConnect = false
        distribution.tickTime = .seconds(configuration.netTicktimeSeconds)
        distribution.busyWait = .microseconds(configuration.busyWaitMicroseconds)
        let local = try LocalNode(distribution, logger: logger)
        var settings = NodeManager.Settings()
        settings.reconnectInitial = .milliseconds(Int(configuration.reconnectInitialSeconds * 1000))
        settings.reconnectMaximum = .milliseconds(Int(configuration.reconnectMaximumSeconds * 1000))
        nodes = NodeManager(local: local, store: store, bus: bus, settings: settings, logger: logger)
        let context = ServiceContext(store: store, bus: bus, nodes: nodes, logger: logger)
        var metricsSettings = MetricsService.Settings()
        metricsSettings.interval = .milliseconds(Int(configuration.metricsIntervalSeconds * 1000))
        var archiveSettings = MetricArchive.Settings()
        archiveSettings.schedule = try RetentionSchedule(parsing: configuration.metricsRetention)
        let archive = MetricArchive(store: store, settings: archiveSettings, logger: logger)
        let graphite = configuration.graphiteHost.map {
            GraphitePusher.Settings(host: $0, port: configuration.graphitePort, prefix: configuration.graphitePrefix,
                                    interval: .milliseconds(Int(configuration.graphiteIntervalSeconds * 1000)))
        }
        metrics = MetricsService(context: context, archive: archive, graphite: graphite, remoteWrite: configuration.remoteWrite,
                                 settings: metricsSettings)
        notifications = NotificationsService(context: context, notifications: store, settingStore: store)
        alarms = AlarmsService(context: context, alarms: store, settingStore: store)
        partitions = PartitionsService(context: context, alarms: alarms)
        commands = CommandsService(context: context, audit: store)
        tracing = TracingService(context: context, traces: store)
        var orchestrationSettings = OrchestrationService.Settings()
        orchestrationSettings.concurrency = configuration.deployConcurrency
        orchestrationSettings.openSSH = OpenSSHSettings(configFile: configuration.sshConfig, agentSocket: configuration.sshAuthSock,
                                                        hostKeys: configuration.sshHostKeys)
        orchestration = OrchestrationService(context: context, store: store, dataDirectory: URL(fileURLWithPath: configuration.dataDirectory),
                                             settings: orchestrationSettings)
        alerts = AlertsService(context: context, store: store, settings: configuration.alerts)
        if let shared = store as? any ClusterStore {
            let name = "\(ProcessInfo.processInfo.hostName):\(configuration.port)"
            let cluster = ClusterService(context: context, store: shared, name: name)
            self.cluster = cluster
            if let log = store as? any ClusterEventLog {
                clusterEvents = ClusterEventRelay(origin: cluster.me.id, log: log, bus: bus, logger: logger)
            } else {
                clusterEvents = nil
            }
        } else {
            cluster = nil
            clusterEvents = nil
        }
        // The node manager first, as every other service talks to nodes through it; in a cluster
        // the event relay next (it must see every event published from then on: the cluster
        // service's adoptions, and releases when stopping), then the cluster service, which
        // hands the node manager its nodes. Alerts before alarms: it must see their first events.
        let clustering: [any NumbatService] = (clusterEvents.map { [$0] } ?? []) + (cluster.map { [$0] } ?? [])
        topology = TopologyService(context: context)
        services = [NodeManagerService(context: context, restoring: cluster == nil)] + clustering
            + [topology, metrics, notifications, alerts, alarms, partitions, commands, tracing, orchestration]
    }

    /// The router with every route: services', tokens, events, health and the OpenAPI document.
    public func makeRouter() -> Router<NumbatRequestContext> {
        let router = Router(context: NumbatRequestContext.self)
        router.middlewares.add(ErrorMiddleware())
        router.middlewares.add(AuthenticationMiddleware(tokens: store, allowLoopbackWithoutToken: configuration.allowsLoopbackWithoutToken))
        if let cluster, let shared = store as? any ClusterStore {
            // After authentication: the caller is known before a request leaves for another server.
            let traces = store
            router.middlewares.add(ClusterForwardingMiddleware(me: cluster.me.id, store: shared, forwarder: ClusterForwarder(me: cluster.me.id, logger: logger),
                                                               traceSessionNode: { try await traces.traceSession(id: $0)?.nodes.first?.nodeID }))
        }
        let api = router.group("api")
        api.get("health") { _, _ in HealthReport(status: "ok", managedNodes: self.nodes.managedCount, nodeWorkers: NodeWorkerTasks.running) }
        api.get("openapi.json") { _, _ in try OpenAPIDocument.response() }
        TokenRoutes.addRoutes(to: api, store: store)
        for service in services { service.addRoutes(to: api) }
        if cluster == nil { addSingleServerClusterRoute(to: api) }
        EventSocket.addRoute(to: router, bus: bus)
        MCPEndpoint.addRoute(to: router, server: self)
        metrics.addExportRoutes(to: router)
        DashboardAssets.addRoutes(to: router)
        return router
    }

    /// The HTTP application on the configured address.
    public func makeApplication(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = makeRouter()
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "numbat"),
            onServerRunning: { channel in
                self.announce(channel)
                await onServerRunning(channel)
            },
            logger: logger)
    }

    /// In a cluster, records where this server's API is reached, once it listens: the others
    /// forward the requests about its nodes there. Retried while the database is away.
    func announce(_ channel: any Channel) {
        guard let cluster, let shared = store as? any ClusterStore else { return }
        var me = cluster.me
        me.apiURL = configuration.advertisedURL(boundAddress: channel.localAddress?.ipAddress, boundPort: channel.localAddress?.port)
        let task = Task { [logger, me] in
            var delay: Duration = .milliseconds(500)
            while !Task.isCancelled {
                do {
                    try await shared.recordAPIURL(of: me)
                    logger.info("cluster: this server's API is reached at \(me.apiURL ?? "?")")
                    return
                } catch {
                    logger.warning("cannot record this server's API address; trying again", metadata: ["error": "\(error)"])
                }
                guard (try? await Task.sleep(for: delay)) != nil else { return }
                delay = min(delay * 2, .seconds(10))
            }
        }
        announcement.withLockedValue { $0 = task }
    }

    /// Creates the first admin token if there is none and writes it, alone, to `admin-token`
    /// (mode 0600) in the data directory. Returns the file's path when it made one.
    @discardableResult
    public func bootstrapAdmin() async throws -> URL? {
        guard try await store.tokens().isEmpty else { return nil }
        let (_, secret) = try await TokenRoutes.create(name: "admin", role: .admin, in: store)
        let file = store.directory.appendingPathComponent("admin-token")
        try? FileManager.default.removeItem(at: file)
        guard FileManager.default.createFile(atPath: file.path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write \(file.path)")
        }
        logger.notice("created the first admin API token; it is in \(file.path)")
        return file
    }

    /// Starts the services in order. If one fails, what had started is stopped again (the
    /// failing service too: it may have started part of its work), the connections close and
    /// the store is closed, so a failed start leaves nothing running.
    public func start() async throws {
        var started: [any NumbatService] = []
        do {
            let migrations = try await store.prepare()
            logger.info("store ready", metadata: ["migrations": "\(migrations.count)", "store": "\(store.storeDescription)",
                                                  "directory": "\(store.directory.path)"])
            try await bootstrapAdmin()
            for service in services {
                started.append(service)
                try await service.start()
                logger.debug("service started", metadata: ["service": "\(service.name)"])
            }
            startHeapTrimming()
        } catch {
            logger.error("start failed; stopping what had started", metadata: ["service": "\(started.last?.name ?? "store")", "error": "\(error)"])
            await shutDown(started)
            throw error
        }
    }

    /// Stops the services in reverse order, closes every distribution connection and flushes
    /// the store.
    public func stop() async {
        logger.info("shutting down")
        await shutDown(services)
        logger.info("stopped")
    }

    private func shutDown(_ started: [any NumbatService]) async {
        let announcing = announcement.withLockedValue { $0 }
        announcing?.cancel()
        await announcing?.value
        let trimming = heapTrimming.withLockedValue { $0 }
        trimming?.cancel()
        await trimming?.value
        // The whole shutdown is bounded: a service flushing to a database that is gone (PostgreSQL
        // unreachable) would otherwise keep the process from ever exiting on SIGTERM.
        let deadline = ContinuousClock.now + Self.stopLimit
        func remaining() -> Duration { max(deadline - ContinuousClock.now, .milliseconds(200)) }
        for service in started.reversed() {
            if await !Self.bounded(remaining(), { await service.stop() }) {
                logger.error("a service did not stop in time; going on without it", metadata: ["service": "\(service.name)", "limit": "\(Self.stopLimit)"])
            }
        }
        bus.finish()
        await nodes.local.shutdown()
        let closed = await Self.bounded(max(remaining(), .seconds(2))) { [store, logger] in
            do {
                try await store.shutdown()
            } catch {
                logger.error("closing the store failed", metadata: ["error": "\(error)"])
            }
        }
        if !closed { logger.error("the store did not close in time; what it had not written is lost", metadata: ["limit": "\(Self.stopLimit)"]) }
    }

    /// Every minute, malloc's free pages go back to the system (`ProcessFootprint.releaseFreeHeap`):
    /// without it a server whose nodes flap holds more resident memory the longer it runs,
    /// though what it has allocated stays flat (docs/reliability.md, flapping links).
    private func startHeapTrimming() {
        let task = Task {
            while (try? await Task.sleep(for: Self.heapTrimInterval)) != nil {
                ProcessFootprint.releaseFreeHeap()
            }
        }
        heapTrimming.withLockedValue { $0 = task }
    }

    static let heapTrimInterval: Duration = .seconds(60)

    /// How long the services and the store may take to stop, all together.
    static let stopLimit: Duration = .seconds(15)

    /// Runs `body` and waits for it at most `limit`; false if it had not finished by then (it
    /// goes on in the background, and ends with the process).
    static func bounded(_ limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        let outcome = NIOLockedValueBox<CheckedContinuation<Bool, Never>?>(nil)
        return await withCheckedContinuation { continuation in
            outcome.withLockedValue { $0 = continuation }
            let finish = { @Sendable (done: Bool) in outcome.withLockedValue { $0.take() }?.resume(returning: done) }
            Task {
                await body()
                finish(true)
            }
            Task {
                try? await Task.sleep(for: limit)
                finish(false)
            }
        }
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) async throws {
        if !configuration.listensOnLoopbackOnly {
            logger.notice("listening on \(configuration.host): every request needs an API token")
        }
        try await start()
        let application = makeApplication(onServerRunning: onServerRunning)
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await stop()
            throw error
        }
        await stop()
    }
}

struct HealthReport: ResponseEncodable {
    var status: String
    var managedNodes: Int
    /// The services' per-node workers' tasks running now (collectors, watchers): as many per UP
    /// node as there are services with such workers, none for a DOWN one.
    var nodeWorkers: Int

    enum CodingKeys: String, CodingKey {
        case status
        case managedNodes = "managed_nodes"
        case nodeWorkers = "node_workers"
    }
}
