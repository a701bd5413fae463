import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// The cluster service (issue 13; seed 2.1's master and middle managers): when several
/// `numbat serve` processes share one PostgreSQL database, each holds leases on a share of the
/// managed nodes and manages only those. Every `Settings.renewInterval` it records its heartbeat
/// and renews its leases in one transaction, then plans (`LeasePlanner`): takes the free and
/// expired leases that hash to it and hands over the ones that now hash to another live server.
/// A server that cannot renew gives up all its nodes before its leases can expire, so a node
/// never has two managers for longer than one lease period.
public final class ClusterService: NumbatService, Sendable {
    public struct Settings: Sendable {
        public var renewInterval: Duration = .seconds(2)
        /// A lease's life without renewal; a dead server's nodes move after at most this long.
        public var leaseSeconds: TimeInterval = 6
        public init() {}
    }

    public var name: String { "cluster" }
    public let me: ClusterServer
    let store: any ClusterStore
    let reader: any NodeReader
    let nodes: NodeManager
    let bus: EventBus
    let logger: Logger
    let settings: Settings
    private let planner: LeasePlanner
    private let state = NIOLockedValueBox(State())
    private let events = EventFollower()

    private struct State {
        var loop: Task<Void, Never>?
        /// Watches the leases apart from the rounds (`letGoIfLeasesMayHaveExpired`).
        var watchdog: Task<Void, Never>?
        /// When this server last renewed its leases: past `leaseSeconds` minus a margin it must
        /// assume they are gone.
        var lastRenewal: ContinuousClock.Instant?
        var held: Set<UUID> = []
        /// The database's clock minus this machine's, as of the last heartbeat: heartbeats and
        /// lease expiries are the database's times, so views of them are judged by its clock.
        var clockOffset: TimeInterval = 0
    }

    public init(context: ServiceContext, store: any ClusterStore, name: String, settings: Settings = Settings()) {
        self.store = store
        self.reader = context.store
        self.nodes = context.nodes
        self.bus = context.bus
        self.logger = context.logger
        self.settings = settings
        let now = Date()
        me = ClusterServer(id: UUID(), name: name, nodeName: context.nodes.local.name.description, startedAt: now, heartbeatAt: now)
        planner = LeasePlanner(me: me.id, ttl: settings.leaseSeconds)
    }

    public func start() async throws {
        // Nodes this server adds or deploys are its own from the first moment.
        events.follow(bus) { [weak self] event in
            guard let self else { return }
            switch event {
            case .nodeStateChanged(let node, from: .uninit) where node.state == .up: await self.claim(node.id)
            case .nodeAdded(let node): await self.claim(node.id)
            case .nodeRemoved(let id, _): try? await self.store.releaseLeases([id], from: self.me.id)
            default: break
            }
        }
        await round()
        let loop = Task { [weak self, interval = settings.renewInterval] in
            while !Task.isCancelled {
                guard (try? await Task.sleep(for: interval)) != nil, let self else { return }
                await self.round()
            }
        }
        // A round can hang rather than fail: a query on a connection whose packets are dropped
        // (a cut network) waits for TCP to give up, many minutes. The leases are watched apart
        // from the rounds, so a server that cannot renew lets its nodes go in time all the same.
        let watchdog = Task { [weak self, interval = settings.renewInterval] in
            while !Task.isCancelled {
                guard (try? await Task.sleep(for: interval / 2)) != nil, let self else { return }
                await self.letGoIfLeasesMayHaveExpired()
            }
        }
        state.withLockedValue {
            $0.loop = loop
            $0.watchdog = watchdog
        }
    }

    public func stop() async {
        let (loop, watchdog) = state.withLockedValue { ($0.loop, $0.watchdog) }
        watchdog?.cancel()
        loop?.cancel()
        await loop?.value
        await events.stop()
        // Leaving cleanly: the others take this server's nodes at their next round.
        await nodes.release(Array(nodes.managedIDs))
        do {
            try await store.removeClusterServer(me.id)
        } catch {
            logger.warning("cannot leave the cluster cleanly; its leases expire instead", metadata: ["error": "\(error)"])
        }
    }

    /// One heartbeat, renewal and plan.
    func round() async {
        let clock = ContinuousClock()
        do {
            var heartbeat = me
            heartbeat.heartbeatAt = Date()
            let (now, held) = try await store.heartbeat(heartbeat, ttl: settings.leaseSeconds)
            let offset = now.timeIntervalSince(Date())
            state.withLockedValue {
                $0.lastRenewal = clock.now
                $0.clockOffset = offset
            }
            let servers = try await store.clusterServers().map { LeasePlanner.Server(id: $0.id, heartbeatAt: $0.heartbeatAt) }
            let leases = Dictionary(try await store.leases().map { ($0.nodeID, LeasePlanner.Lease(server: $0.serverID, expiresAt: $0.expiresAt)) },
                                    uniquingKeysWith: { first, _ in first })
            // Leases lost while this server could not renew (taken by another) end here too; a
            // node managed here whose claim has not been stored yet is claimed now.
            let managed = nodes.managedIDs
            let lost = managed.filter { leases[$0].map { $0.server != me.id } ?? false }
            if !lost.isEmpty {
                logger.warning("leases lost to another server; letting go", metadata: ["nodes": "\(lost.count)"])
                await nodes.release(Array(lost))
            }
            // Unclaimed: no lease yet, or this server's own lease that expired while the database
            // could not be reached (nobody has taken it: take it back).
            let unclaimed = managed.filter { id in leases[id].map { $0.server == me.id && !held.contains(id) } ?? true }
            if !unclaimed.isEmpty { _ = try await store.acquireLeases(Array(unclaimed), for: me.id, ttl: settings.leaseSeconds) }
            let stored = try await reader.nodes()
            let all = stored.map(\.id)
            let plan = planner.plan(nodes: all, servers: servers, leases: leases, now: now)
            // A connectable node this server holds the lease of but does not manage (its
            // takeover failed: the database answered an error mid-way) is taken over again;
            // otherwise no server would ever manage it while the lease says it is this one's.
            let connectable = Set(stored.filter { $0.state == .up || $0.state == .down }.map(\.id))
            let stray = planner.strays(leases: leases, connectable: connectable, managed: managed, releasing: plan.release)
            var retaken: Set<UUID> = []
            if !stray.isEmpty {
                retaken = try await store.acquireLeases(stray, for: me.id, ttl: settings.leaseSeconds)
                await nodes.adopt(Array(retaken))
                logger.warning("took over again nodes whose takeover had failed", metadata: ["nodes": "\(retaken.count)"])
            }
            if !plan.release.isEmpty {
                await nodes.release(plan.release)
                try await store.releaseLeases(plan.release, from: me.id)
                logger.info("handed nodes over", metadata: ["nodes": "\(plan.release.count)"])
            }
            var mine = held.union(unclaimed).union(retaken).subtracting(plan.release)
            if !plan.acquire.isEmpty {
                let got = try await store.acquireLeases(plan.acquire, for: me.id, ttl: settings.leaseSeconds)
                await nodes.adopt(Array(got))
                mine.formUnion(got)
                if !got.isEmpty { logger.info("took over nodes", metadata: ["nodes": "\(got.count)"]) }
            }
            state.withLockedValue { $0.held = mine }
        } catch {
            await renewalFailed(error, clock: clock)
        }
    }

    /// The database could not be reached: keep the nodes while the leases surely last, then let
    /// every one go, so that the server that takes them is their only manager.
    private func renewalFailed(_ error: any Error, clock: ContinuousClock) async {
        logger.error("cluster heartbeat failed", metadata: ["error": "\(error)"])
        await letGoIfLeasesMayHaveExpired()
    }

    /// Once the last renewal is so old that the leases may have expired (`leaseSeconds` less a
    /// margin), lets every node go, so that the server that takes them is their only manager.
    /// Run after a failed round and on its own timer: a round may hang instead of failing.
    private func letGoIfLeasesMayHaveExpired() async {
        let last = state.withLockedValue { $0.lastRenewal }
        let margin = settings.renewInterval * 1.5
        let expired = last.map { ContinuousClock.now - $0 > .seconds(settings.leaseSeconds) - margin } ?? true
        guard expired else { return }
        let managed = nodes.managedIDs
        if !managed.isEmpty {
            logger.error("leases may have expired: letting go of every node", metadata: ["nodes": "\(managed.count)"])
            await nodes.release(Array(managed))
        }
        state.withLockedValue { $0.held = [] }
    }

    /// Takes the lease of a node this server just added or planned.
    private func claim(_ id: UUID) async {
        do {
            let got = try await store.acquireLeases([id], for: me.id, ttl: settings.leaseSeconds)
            state.withLockedValue { $0.held.formUnion(got) }
            // Another server holds it already: it is that server's to manage.
            if got.isEmpty { await nodes.release([id]) }
        } catch {
            logger.error("cannot take the lease of a new node", metadata: ["node": "\(id)", "error": "\(error)"])
        }
    }

    /// Now by the database's clock (as of the last heartbeat).
    var databaseNow: Date { Date().addingTimeInterval(state.withLockedValue { $0.clockOffset }) }

    /// The nodes this server holds leases on, as of its last round.
    public var heldNodes: Set<UUID> { state.withLockedValue { $0.held } }
}
