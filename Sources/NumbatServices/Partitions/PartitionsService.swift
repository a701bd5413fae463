import ErlangDist
import ErlangTerm
import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatCore

/// Partitions (issue 19 item 2): the thin shell around `FamilyConnectivity` and
/// `PartitionTracker`. One periodic task, at the alarm check interval, reads every UP node's
/// view with one cheap rpc (`numbat_alarm_agent:links/0`: `erlang:nodes()`, the distribution
/// buffers' queued bytes and the busy limit; plain `erlang:nodes/0` where the alarm agent is not
/// loaded), each on its node's event loop, and raises or clears the `partition` alarm of each
/// family through the alarms service. The connectivity route reads the family's members afresh.
public final class PartitionsService: NumbatService {
    public let name = "partitions"
    let nodes: NodeManager
    let store: any NodeReader & FamilyStore
    let alarms: AlarmsService
    let logger: Logger
    private let tracker = NIOLockedValueBox(PartitionTracker())
    /// Families whose active alarm was looked for in the store (once each, after a start).
    private let restored = NIOLockedValueBox(Set<UUID>())
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)
    static let alarmKey = "partition"

    public init(context: ServiceContext, alarms: AlarmsService) {
        nodes = context.nodes
        store = context.store
        logger = context.logger
        self.alarms = alarms
    }

    public func start() async throws {
        let running = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                await self.checkOnce()
                let interval = self.alarms.thresholds.intervalSeconds
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
        }
        task.withLockedValue { $0 = running }
    }

    public func stop() async {
        let running = task.withLockedValue { $0 }
        running?.cancel()
        await running?.value
    }

    /// One round: every family with an UP node of this server's, all read at once.
    func checkOnce() async {
        let up = nodes.upNodes
        let families = Dictionary(grouping: up.filter { $0.familyID != nil }, by: { $0.familyID! })
        let views = await Self.read(up, nodes: nodes)
        for (family, members) in families {
            let connectivity = FamilyConnectivity(members: members.map { .init(id: $0.id, name: $0.name, state: $0.state) },
                                                  views: views)
            await restore(family: family, members: members)
            let name = (try? await store.family(id: family))?.name ?? family.uuidString.lowercased()
            let actions = tracker.withLockedValue { $0.observe(family: family, name: name, connectivity) }
            for action in actions { await carry(action) }
        }
        // Families with no UP node here left: nothing is split among no one.
        let gone = tracker.withLockedValue { tracker in tracker.active.filter { families[$0.key] == nil } }
        for (family, split) in gone {
            tracker.withLockedValue { $0.forget(family: family) }
            await carry(.clear(family: family, split, reason: "no member of the family is UP"))
        }
    }

    /// The connectivity of one family now (for the route): its stored members, the UP ones read.
    func connectivity(of family: NodeFamily) async throws -> FamilyConnectivityResponse {
        let members = try await store.nodes().filter { $0.familyID == family.id }
        let upHere = Set(nodes.upNodes.map(\.id))
        let views = await Self.read(members.filter { upHere.contains($0.id) }, nodes: nodes)
        let connectivity = FamilyConnectivity(members: members.map { .init(id: $0.id, name: $0.name, state: $0.state) }, views: views)
        return connectivity.response(family: family.id, name: family.name, checkedAt: Date())
    }

    /// Each node's view, by name; nodes that did not answer are left out.
    static func read(_ members: [ManagedNode], nodes: NodeManager) async -> [String: FamilyConnectivity.View] {
        await withTaskGroup(of: (String, FamilyConnectivity.View?).self) { group in
            for member in members {
                let executor = nodes.taskExecutor(for: member.name)
                group.addTask(executorPreference: executor) { (member.name, await Self.view(of: member, nodes: nodes)) }
            }
            var views: [String: FamilyConnectivity.View] = [:]
            for await (name, view) in group { if let view { views[name] = view } }
            return views
        }
    }

    /// `numbat_alarm_agent:links()`; `erlang:nodes()` where the agent's module is not loaded.
    static func view(of node: ManagedNode, nodes: NodeManager) async -> FamilyConnectivity.View? {
        if let reply = try? await nodes.rpc(node, Atom(NodeAlarmWatcher.agentName), "links", [], timeout: .seconds(5)),
           let view = FamilyConnectivity.View(reply) {
            return view
        }
        guard let reply = try? await nodes.rpc(node, "erlang", "nodes", [], timeout: .seconds(5)), let peers = reply.listElements else { return nil }
        return FamilyConnectivity.View(peers: Set(peers.compactMap { $0.atomValue?.name }))
    }

    /// Looks once for an active partition alarm of the family's (kept over a restart).
    private func restore(family: UUID, members: [ManagedNode]) async {
        guard restored.withLockedValue({ $0.insert(family).inserted }) else { return }
        for member in members {
            guard let active = try? await alarms.alarms.activeAlarms(nodeID: member.id), active.contains(where: { $0.key == Self.alarmKey }) else { continue }
            tracker.withLockedValue { $0.adopt(family: family, .init(holder: member.id, holderName: member.name, sides: [])) }
            return
        }
    }

    private func carry(_ action: PartitionTracker.Action) async {
        switch action {
        case .raise(_, let split, let summary, let details):
            // `repeat: true`: a second raise during one split would show as a raise count of 2
            // (the tracker raises once per split; the real-node test holds it to that).
            logger.warning("partition: \(summary)")
            await alarms.raise(AlarmRaise(nodeID: split.holder, nodeName: split.holderName, key: Self.alarmKey, source: .numbat,
                                          severity: .major, summary: summary, details: details), repeat: true)
        case .clear(_, let split, let reason):
            logger.notice("partition healed: \(reason)")
            do {
                if let change = try await alarms.alarms.clearAlarm(nodeID: split.holder, key: Self.alarmKey, time: Date(), reason: reason) {
                    alarms.bus.publish(.alarm(change))
                }
            } catch {
                logger.error("clearing a partition alarm failed", metadata: ["node": "\(split.holderName)", "error": "\(error)"])
            }
        }
    }
}

extension FamilyConnectivity.View {
    /// The alarm agent's `links/0` map: `#{nodes => [Node], queues => [{Node, Bytes}], busy_limit => N,
    /// busy_events => [{Node, Count}] | unavailable}`.
    init?(_ term: Term) {
        guard case .map(let map) = term, let peers = map[.atom("nodes")]?.listElements else { return nil }
        self.peers = Set(peers.compactMap { $0.atomValue?.name })
        queues = [:]
        for pair in map[.atom("queues")]?.listElements ?? [] {
            guard let parts = pair.tupleElements, parts.count == 2, let node = parts[0].atomValue?.name, let bytes = parts[1].intValue else { continue }
            queues[node] = bytes
        }
        busyLimit = map[.atom("busy_limit")]?.intValue
        // `unavailable` (another tool holds the system monitor, or no agent process): nil.
        if let counts = map[.atom("busy_events")]?.listElements {
            var events: [String: Int] = [:]
            for pair in counts {
                guard let parts = pair.tupleElements, parts.count == 2, let node = parts[0].atomValue?.name, let count = parts[1].intValue else { continue }
                events[node] = count
            }
            busyEvents = events
        }
    }
}
