import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// The metrics service's master part (seed 2.2 item 3, 4.2.2): a collector per UP node, started
/// and stopped as the node manager reports nodes up and down; the latest snapshot of each node,
/// and the history with roll-ups in the `MetricArchive`.
public final class MetricsService: NumbatService {
    public struct Settings: Sendable {
        /// Collection cycle (seed: one minute).
        public var interval: Duration = .seconds(60)
        /// Bound on one collection on one node.
        public var collectTimeout: Duration = .seconds(10)
        /// Live metrics: the period, and how long a node is still sampled after its last viewer left.
        public var livePeriod: Duration = .seconds(1)
        public var liveLinger: Duration = .seconds(10)
        public init() {}
    }

    public let name = "metrics"
    let nodes: NodeManager
    let bus: EventBus
    let store: any NodeReader & FamilyStore
    let logger: Logger
    let settings: Settings
    /// The stored history; every collection goes in.
    public let archive: MetricArchive
    /// Pushes to Graphite when configured.
    let graphite: GraphitePusher?
    /// Prometheus remote write to the receivers configured, if any.
    let remoteWrite: RemoteWrite?
    private let collectors = NodeWorkers<NodeCollector>()
    /// Every node's collections, for their phases (`RunPhase`).
    let collections = PeriodicWorkGroup()
    private let latest = NIOLockedValueBox<[UUID: MetricSnapshot]>([:])
    private let intervals = NIOLockedValueBox<[UUID: Duration]>([:])
    private let events = NodeFollower()
    /// Per-second collection while someone watches (`/api/metrics/live`).
    let live: LiveMetrics

    public init(context: ServiceContext, archive: MetricArchive, graphite: GraphitePusher.Settings? = nil,
                remoteWrite: [RemoteWriteSettings] = [], settings: Settings = Settings()) {
        nodes = context.nodes
        bus = context.bus
        store = context.store
        logger = context.logger
        self.archive = archive
        self.settings = settings
        self.graphite = graphite.map { GraphitePusher(settings: $0, logger: context.logger) }
        self.remoteWrite = remoteWrite.isEmpty ? nil : RemoteWrite(settings: remoteWrite, logger: context.logger)
        let collectors = self.collectors
        live = LiveMetrics(period: settings.livePeriod, linger: settings.liveLinger) { id in
            guard let collector = collectors[id] else {
                throw MetricsError(message: "the node is not UP")
            }
            return try await collector.collectOnce()
        }
    }

    public func start() async throws {
        // Only the nodes managed here: in a cluster another server holds the others, and a copy
        // of their open blocks taken now would be stale by the time this one takes them over.
        let managed = nodes.managedIDs
        try await archive.start(restoring: try await store.nodes().map(\.id).filter { managed.contains($0) })
        graphite?.start(source: { [weak self] in await self?.graphiteSnapshot() ?? [] })
        await remoteWrite?.start()
        await events.follow(bus, manager: nodes) { [weak self] change in
            guard let self else { return }
            switch change {
            case .up(let node, _): self.startCollecting(node)
            case .notUp(let node): await self.stopCollecting(node.id, forget: false)
            case .removed(let id): await self.stopCollecting(id, forget: true)
            case .released(let id): await self.handOver(id)
            }
        }
    }

    public func stop() async {
        await events.stop()
        await live.stop()
        await collectors.stopAll()
        await graphite?.stop()
        await remoteWrite?.stop()
        await archive.stop()
    }

    func startCollecting(_ node: ManagedNode) {
        collectors.start(node.id) { NodeCollector(node: node, service: self) }
    }

    /// Another server of the cluster manages the node now: stop collecting and hand its history over.
    func handOver(_ id: UUID) async {
        await collectors.stop(id)
        // Its latest values are its new holder's to serve: exposed here too, a scrape of every
        // server would see the node twice, once with stale values.
        latest.withLockedValue { _ = $0.removeValue(forKey: id) }
        do { try await archive.handOver(node: id) } catch {
            logger.error("writing a handed-over node's metric history failed", metadata: ["node": "\(id)", "error": "\(error)"])
        }
    }

    func stopCollecting(_ id: UUID, forget: Bool) async {
        await collectors.stop(id)
        if forget {
            latest.withLockedValue { _ = $0.removeValue(forKey: id) }
            intervals.withLockedValue { _ = $0.removeValue(forKey: id) }
            remoteWrite?.forget(node: id)
            do { try await archive.forget(node: id) } catch {
                logger.error("deleting a removed node's metric history failed", metadata: ["node": "\(id)", "error": "\(error)"])
            }
        }
    }

    func record(_ snapshot: MetricSnapshot, for node: ManagedNode) async {
        latest.withLockedValue { $0[node.id] = snapshot }
        do {
            try await archive.ingest(node: node.id, time: snapshot.time, values: snapshot.values)
        } catch is CancellationError {
            // The node's collector is being stopped (the node went DOWN, was removed or handed over).
            logger.debug("storing metrics cancelled", metadata: ["node": "\(node.name)"])
        } catch {
            logger.error("storing metrics failed", metadata: ["node": "\(node.name)", "error": "\(error)"])
        }
        await remoteWrite(snapshot, for: node)
    }

    /// What Graphite gets: each node's latest values, under its name.
    func graphiteSnapshot() async -> [GraphitePusher.NodeValues] {
        guard let nodes = try? await store.nodes() else { return [] }
        let snapshots = latestSnapshots
        return nodes.compactMap { node in
            snapshots[node.id].map { GraphitePusher.NodeValues(node: node.name, time: $0.time, values: $0.values) }
        }
    }

    /// The collection interval for a node (its own setting, else the global one).
    func interval(for id: UUID) -> Duration {
        intervals.withLockedValue { $0[id] } ?? settings.interval
    }

    /// Sets or clears (nil) a node's own collection interval.
    public func setInterval(_ interval: Duration?, for id: UUID) {
        intervals.withLockedValue { $0[id] = interval }
    }

    /// The latest snapshot of a node, if one was collected.
    public func latestSnapshot(for id: UUID) -> MetricSnapshot? {
        latest.withLockedValue { $0[id] }
    }

    /// Every node's latest snapshot.
    public var latestSnapshots: [UUID: MetricSnapshot] { latest.withLockedValue { $0 } }

    /// Nodes sampled every second for live viewers now.
    public var liveSamplingCount: Int { live.samplingCount }

    /// Nodes being collected now.
    public var collectingCount: Int { collectors.count }
}
