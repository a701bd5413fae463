import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// The alarms service's master part (seed 2.2 item 5, 4.2.4): an alarm watcher per UP node
/// (SASL's alarms and the built-in checks), Numbat's own `node_down` alarm, the thresholds,
/// and an `alarm` event on the bus for every change.
public final class AlarmsService: NumbatService {
    public struct Settings: Sendable {
        /// The process scan for long message queues is skipped on nodes with more processes.
        public var maxProcessScan = 100_000
        /// The thresholds before an operator changed any (tests shorten the interval).
        public var defaultThresholds = AlarmThresholds()
        public init() {}
    }

    public let name = "alarms"
    let nodes: NodeManager
    let bus: EventBus
    let store: any NodeReader & FamilyStore
    let alarms: any AlarmStore
    let settingStore: any SettingStore
    let logger: Logger
    let settings: Settings
    private let watchers = NodeWorkers<NodeAlarmWatcher>()
    /// Every node's built-in checks, for their phases (`RunPhase`).
    let checkRuns = PeriodicWorkGroup()
    private let currentThresholds: NIOLockedValueBox<AlarmThresholds>
    /// Each UP node's family and, per family aspect (applications, system, time zone), its values
    /// from its latest check, for the family checks.
    private let familyTallies = NIOLockedValueBox([BuiltInChecks.FamilyAspect: FamilyVersions]())
    private let events = NodeFollower()
    static let thresholdsKey = "alarm_thresholds"

    public init(context: ServiceContext, alarms: any AlarmStore, settingStore: any SettingStore, settings: Settings = Settings()) {
        nodes = context.nodes
        bus = context.bus
        store = context.store
        logger = context.logger
        self.alarms = alarms
        self.settingStore = settingStore
        self.settings = settings
        currentThresholds = NIOLockedValueBox(settings.defaultThresholds)
    }

    public func start() async throws {
        if let stored = try await settingStore.setting(Self.thresholdsKey) {
            do {
                let decoded = try JSONDecoder().decode(AlarmThresholds.self, from: stored)
                currentThresholds.withLockedValue { $0 = decoded }
            } catch {
                logger.error("the stored alarm thresholds are unreadable; using the defaults", metadata: ["error": "\(error)"])
            }
        }
        await events.follow(bus, manager: nodes) { [weak self] change in
            guard let self else { return }
            switch change {
            case .up(let node, _): await self.nodeChanged(node)
            case .notUp(let node): await self.nodeChanged(node)
            case .removed(let id): await self.nodeRemoved(id)
            case .released(let id):
                await self.watchers.stop(id)
                self.forgetFamilyValues(of: id)
            }
        }
    }

    public func stop() async {
        await events.stop()
        await watchers.stopAll()
    }

    /// The thresholds in force.
    public var thresholds: AlarmThresholds { currentThresholds.withLockedValue { $0 } }

    /// Stores and applies new thresholds (from the next check of each node).
    public func setThresholds(_ thresholds: AlarmThresholds) async throws {
        try thresholds.validate()
        try await settingStore.setSetting(Self.thresholdsKey, try JSONEncoder().encode(thresholds))
        currentThresholds.withLockedValue { $0 = thresholds }
    }

    private func startWatching(_ node: ManagedNode) {
        watchers.start(node.id) { NodeAlarmWatcher(node: node, service: self) }
    }

    private func nodeChanged(_ node: ManagedNode) async {
        if node.state == .up {
            startWatching(node)
            await clear(node: node, key: "node_down", reason: "the node is UP again")
        } else {
            await watchers.stop(node.id)
            forgetFamilyValues(of: node.id)
            if node.state == .down {
                await raise(AlarmRaise(nodeID: node.id, nodeName: node.name, key: "node_down", source: .numbat, severity: .major,
                                       summary: "\(node.name) is DOWN" + (node.lastError.map { ": \($0)" } ?? "")), repeat: false)
            }
        }
    }

    /// A removed node leaves no active alarm behind; its history stays.
    private func nodeRemoved(_ id: UUID) async {
        await watchers.stop(id)
        forgetFamilyValues(of: id)
        do {
            for alarm in try await alarms.activeAlarms(nodeID: id) {
                if let change = try await alarms.clearAlarm(nodeID: id, key: alarm.key, time: Date(), reason: "the node was removed from Numbat") {
                    bus.publish(.alarm(change))
                }
            }
        } catch {
            logger.error("clearing a removed node's alarms failed", metadata: ["node": "\(id)", "error": "\(error)"])
        }
    }

    func raise(_ raise: AlarmRaise, repeat: Bool) async {
        do {
            if let change = try await alarms.raiseAlarm(raise, repeat: `repeat`) { bus.publish(.alarm(change)) }
        } catch {
            logger.error("raising an alarm failed", metadata: ["node": "\(raise.nodeName)", "key": "\(raise.key)", "error": "\(error)"])
        }
    }

    func clear(node: ManagedNode, key: String, reason: String) async {
        do {
            if let change = try await alarms.clearAlarm(nodeID: node.id, key: key, time: Date(), reason: reason) { bus.publish(.alarm(change)) }
        } catch {
            logger.error("clearing an alarm failed", metadata: ["node": "\(node.name)", "key": "\(key)", "error": "\(error)"])
        }
    }

    /// A manager's alarms as the node has them now (after connecting, or the manager starting):
    /// each is raised unless already active, and the node's active alarms of that manager it no
    /// longer has clear.
    func sync(_ raises: [AlarmRaise], from manager: ManagerAlarm, node: ManagedNode) async {
        for raise in raises { await self.raise(raise, repeat: false) }
        let current = Set(raises.map(\.key))
        do {
            for alarm in try await alarms.activeAlarms(nodeID: node.id)
            where alarm.source == manager.source && alarm.key.hasPrefix(manager.keyPrefix) && !current.contains(alarm.key) {
                await clear(node: node, key: alarm.key, reason: "no longer set on the node (\(manager.manager))")
            }
        } catch {
            logger.error("syncing alarms failed", metadata: ["node": "\(node.name)", "manager": "\(manager.manager)", "error": "\(error)"])
        }
    }

    private func forgetFamilyValues(of id: UUID) {
        familyTallies.withLockedValue { tallies in
            for aspect in tallies.keys { tallies[aspect]?.remove(id) }
        }
    }

    /// Records the node's applications, system and time zone, and compares each with its
    /// family's other UP members.
    func familyMismatches(node: ManagedNode, _ facts: AlarmFacts, _ thresholds: AlarmThresholds) -> [AlarmCondition] {
        BuiltInChecks.FamilyAspect.allCases.compactMap { aspect in
            let differences = familyTallies.withLockedValue { tallies in
                tallies[aspect, default: FamilyVersions()].record(node.id, family: node.familyID, name: node.name, versions: aspect.values(facts))
                return tallies[aspect]!.differences(of: node.id)
            }
            return BuiltInChecks.familyMismatch(aspect, differences, thresholds)
        }
    }
}
