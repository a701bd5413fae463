import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// The cluster service (issue 13; seed 2.1's master and middle managers): when several
/// `numbat serve` processes share one PostgreSQL database, each holds leases on a share of the
/// managed nodes and manages only those. Every `Settings.renewInterval` it records its heartbeat
/// and renews its leases in one transaction (on connections of their own), then plans
/// (`LeasePlanner`): takes the free and expired leases that hash to it and hands over the ones
/// that now hash to another live server. A plan is carried out apart from the renewals, which
/// go on meanwhile, and the next plan waits for it.
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
        /// The leases held and when they were last renewed (`LeaseWatch` decides when they may
        /// have expired).
        var leases = LeaseWatch()
        /// The plan being carried out, apart from the renewals; one at a time.
        var planning: Task<Void, Never>?
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
        // Renewals run at a high priority: a server busy with thousands of nodes must not lose
        // its leases to its own work.
        // On a fixed cadence from each round's start: a slow renewal does not push the next
        // one back by as much.
        let loop = Task(priority: .high) { [weak self, interval = settings.renewInterval] in
            let clock = ContinuousClock()
            var next = clock.now.advanced(by: interval)
            while !Task.isCancelled {
                guard (try? await Task.sleep(until: next, clock: clock)) != nil, let self else { return }
                next = max(next.advanced(by: interval), clock.now)
                await self.backgroundRound()
            }
        }
        // A round can hang rather than fail: a query on a connection whose packets are dropped
        // (a cut network) waits for TCP to give up, many minutes. The leases are watched apart
        // from the rounds, so a server that cannot renew lets its nodes go in time all the same.
        let watchdog = Task(priority: .high) { [weak self, interval = settings.renewInterval] in
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
        // A plan half carried out ends first, so that nothing is taken over after the release.
        await state.withLockedValue { $0.planning }?.value
        await events.stop()
        // Leaving cleanly: the others take this server's nodes at their next round.
        await nodes.release(Array(nodes.managedIDs))
        do {
            try await store.removeClusterServer(me.id)
        } catch {
            logger.warning("cannot leave the cluster cleanly; its leases expire instead", metadata: ["error": "\(error)"])
        }
    }

    /// One heartbeat and renewal, then a plan carried out: the first round, which the server
    /// waits for before it serves.
    func round() async {
        guard let held = await renew() else { return }
        await plan(held: held)
    }

    /// A round of the loop: the heartbeat and renewal every time; a plan only when the last one
    /// is done. Carrying out a plan can take a while (thousands of nodes taken over or handed
    /// over), and the renewals must go on meanwhile, or a busy server would lose its leases.
    private func backgroundRound() async {
        guard let held = await renew() else { return }
        state.withLockedValue { state in
            guard state.planning == nil else { return }
            state.planning = Task(priority: .medium) { [weak self] in
                await self?.plan(held: held)
                self?.state.withLockedValue { $0.planning = nil }
            }
        }
    }

    /// Records the heartbeat and renews the leases; returns the ones still held (nil when the
    /// database could not be reached).
    private func renew() async -> Set<UUID>? {
        let clock = ContinuousClock()
        let sent = clock.now
        do {
            var heartbeat = me
            heartbeat.heartbeatAt = Date()
            let (now, held) = try await store.heartbeat(heartbeat, ttl: settings.leaseSeconds)
            let offset = now.timeIntervalSince(Date())
            state.withLockedValue {
                $0.leases.renewed(held, sentAt: sent)
                $0.clockOffset = offset
            }
            return held
        } catch {
            await renewalFailed(error, clock: clock)
            return nil
        }
    }

    /// Reads the servers and leases, and takes and hands over nodes as `LeasePlanner` says.
    /// `held`: the leases the last renewal kept.
    private func plan(held: Set<UUID>) async {
        do {
            let servers = try await store.clusterServers().map { LeasePlanner.Server(id: $0.id, heartbeatAt: $0.heartbeatAt) }
            let stored = try await store.leasedNodes()
            let now = databaseNow
            let leases = Dictionary(stored.compactMap { node in node.lease.map { (node.nodeID, LeasePlanner.Lease(server: $0.serverID, expiresAt: $0.expiresAt)) } },
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
            if !unclaimed.isEmpty {
                let sent = ContinuousClock.now
                let got = try await store.acquireLeases(Array(unclaimed), for: me.id, ttl: settings.leaseSeconds)
                recordAcquired(got, sentAt: sent)
            }
            let plan = planner.plan(nodes: stored.map(\.nodeID), servers: servers, leases: leases, now: now)
            // A connectable node this server holds the lease of but does not manage (its
            // takeover failed: the database answered an error mid-way) is taken over again;
            // otherwise no server would ever manage it while the lease says it is this one's.
            let connectable = Set(stored.filter { $0.state == .up || $0.state == .down }.map(\.nodeID))
            let stray = planner.strays(leases: leases, connectable: connectable, managed: managed, releasing: plan.release)
            if !stray.isEmpty {
                let sent = ContinuousClock.now
                let retaken = try await store.acquireLeases(stray, for: me.id, ttl: settings.leaseSeconds)
                recordAcquired(retaken, sentAt: sent)
                await nodes.adopt(Array(retaken))
                logger.warning("took over again nodes whose takeover had failed", metadata: ["nodes": "\(retaken.count)"])
            }
            if !plan.release.isEmpty {
                await nodes.release(plan.release)
                try await store.releaseLeases(plan.release, from: me.id)
                state.withLockedValue { $0.leases.released(plan.release) }
                logger.info("handed nodes over", metadata: ["nodes": "\(plan.release.count)"])
            }
            if !plan.acquire.isEmpty {
                let sent = ContinuousClock.now
                let got = try await store.acquireLeases(plan.acquire, for: me.id, ttl: settings.leaseSeconds)
                recordAcquired(got, sentAt: sent)
                await nodes.adopt(Array(got))
                if !got.isEmpty { logger.info("took over nodes", metadata: ["nodes": "\(got.count)"]) }
            }
        } catch {
            // The next round plans again; the renewals (and the watchdog) keep the leases safe.
            logger.error("cluster plan failed", metadata: ["error": "\(error)"])
        }
    }

    /// Leases just taken (`LeaseWatch.acquired`).
    private func recordAcquired(_ got: Set<UUID>, sentAt sent: ContinuousClock.Instant) {
        state.withLockedValue { $0.leases.acquired(got, sentAt: sent) }
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
        // The margin covers letting go (closing thousands of connections takes a moment); the
        // other servers take a node only after its lease expired, at their next round. With
        // renewals every 2 s and leases of 6 s, a renewal up to 3 s late (a busy machine) is
        // tolerated.
        let margin = settings.renewInterval / 2
        let expired = state.withLockedValue { $0.leases.mayHaveExpired(at: .now, leaseSeconds: settings.leaseSeconds, margin: margin) }
        guard expired else { return }
        let managed = nodes.managedIDs
        if !managed.isEmpty {
            logger.error("leases may have expired: letting go of every node", metadata: ["nodes": "\(managed.count)"])
            await nodes.release(Array(managed))
        }
        state.withLockedValue { $0.leases.letGo() }
    }

    /// Takes the lease of a node this server just added or planned.
    private func claim(_ id: UUID) async {
        do {
            let sent = ContinuousClock.now
            let got = try await store.acquireLeases([id], for: me.id, ttl: settings.leaseSeconds)
            recordAcquired(got, sentAt: sent)
            // Another server holds it already: it is that server's to manage.
            if got.isEmpty { await nodes.release([id]) }
        } catch {
            logger.error("cannot take the lease of a new node", metadata: ["node": "\(id)", "error": "\(error)"])
        }
    }

    /// Now by the database's clock (as of the last heartbeat).
    var databaseNow: Date { Date().addingTimeInterval(state.withLockedValue { $0.clockOffset }) }

    /// The nodes this server holds leases on, as of its last round.
    public var heldNodes: Set<UUID> { state.withLockedValue { $0.leases.held } }
}
