import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// The notifications service's master part (seed 2.2 item 4, 4.2.3): a log collector per UP
/// node, a level per node (default `error`), Numbat's own notifications (node up and down),
/// storage with a retention limit, and a `notification` event on the bus for every stored one.
public final class NotificationsService: NumbatService {
    public struct Settings: Sendable {
        /// The level collected from a node that has none of its own.
        public var defaultLevel: NodeNotification.Severity = .error
        /// Most notifications kept; older ones are deleted as new ones arrive.
        public var retain = 1_000_000
        /// Most log events a node's agent forwards per second; the rest are counted as dropped.
        public var maxRatePerNode = 1000
        public init() {}
    }

    public let name = "notifications"
    let nodes: NodeManager
    let bus: EventBus
    let store: any NodeReader & FamilyStore
    let notifications: any NotificationStore
    let settingStore: any SettingStore
    let logger: Logger
    let settings: Settings
    private let collectors = NodeWorkers<NodeLogCollector>()
    private let levels = NIOLockedValueBox<[UUID: NodeNotification.Severity]>([:])
    private let events = NodeFollower()

    static let levelKeyPrefix = "notification_level:"

    public init(context: ServiceContext, notifications: any NotificationStore, settingStore: any SettingStore, settings: Settings = Settings()) {
        nodes = context.nodes
        bus = context.bus
        store = context.store
        logger = context.logger
        self.notifications = notifications
        self.settingStore = settingStore
        self.settings = settings
    }

    public func start() async throws {
        // Levels set through the API survive a restart.
        for (key, value) in try await settingStore.settings(prefix: Self.levelKeyPrefix) {
            guard let id = UUID(uuidString: String(key.dropFirst(Self.levelKeyPrefix.count))),
                  let level = NodeNotification.Severity(rawValue: String(decoding: value, as: UTF8.self)) else { continue }
            levels.withLockedValue { $0[id] = level }
        }
        await events.follow(bus, manager: nodes) { [weak self] change in
            guard let self else { return }
            switch change {
            case .up(let node, let wasDown): await self.nodeUp(node, again: wasDown)
            case .notUp(let node): await self.nodeLeftUp(node)
            case .released(let id): await self.stopCollecting(id)
            case .removed(let id):
                await self.stopCollecting(id)
                self.levels.withLockedValue { _ = $0.removeValue(forKey: id) }
                try? await self.settingStore.setSetting(Self.levelKeyPrefix + id.uuidString, nil)
            }
        } other: { [weak self] event in
            if case .alarm(let change) = event { await self?.alarmChanged(change) }
        }
    }

    public func stop() async {
        await events.stop()
        await collectors.stopAll()
    }

    /// Numbat's own notifications of alarms raised (or escalated) and cleared.
    private func alarmChanged(_ change: AlarmChange) async {
        let alarm = change.alarm
        let (severity, verb): (NodeNotification.Severity, String)
        switch change.kind {
        case .raised: (severity, verb) = (alarm.severity >= .major ? .error : .warning, "raised")
        case .escalated: (severity, verb) = (alarm.severity >= .major ? .error : .warning, "escalated to \(alarm.severity.rawValue)")
        case .cleared: (severity, verb) = (.notice, "cleared")
        case .repeated, .acknowledged, .commented: return
        }
        await record([NodeNotification(nodeID: alarm.nodeID, nodeName: alarm.nodeName, time: Date(), severity: severity, source: .numbat,
                                       message: "alarm \(verb) on \(alarm.nodeName): \(alarm.summary)",
                                       metadata: ["alarm": "\(alarm.id)", "alarm_key": alarm.key, "alarm_severity": alarm.severity.rawValue])])
    }

    private func nodeUp(_ node: ManagedNode, again: Bool) async {
        startCollecting(node)
        if again {
            await record([NodeNotification(nodeID: node.id, nodeName: node.name, time: Date(), severity: .notice,
                                           source: .numbat, message: "\(node.name) is UP again")])
        }
    }

    private func nodeLeftUp(_ node: ManagedNode) async {
        await stopCollecting(node.id)
        if node.state == .down {
            let reason = node.lastError.map { ": \($0)" } ?? ""
            await record([NodeNotification(nodeID: node.id, nodeName: node.name, time: Date(), severity: .error,
                                           source: .numbat, message: "\(node.name) is DOWN\(reason)")])
        }
    }

    func startCollecting(_ node: ManagedNode) {
        collectors.start(node.id) { NodeLogCollector(node: node, service: self) }
    }

    func stopCollecting(_ id: UUID) async {
        await collectors.stop(id)
    }

    /// Stores notifications and publishes each.
    func record(_ batch: [NodeNotification]) async {
        do {
            for stored in try await notifications.appendNotifications(batch, retain: settings.retain) {
                bus.publish(.notification(stored))
            }
        } catch {
            logger.error("storing notifications failed", metadata: ["count": "\(batch.count)", "error": "\(error)"])
        }
    }

    /// A node's level (its own, else the default).
    public func level(for id: UUID) -> NodeNotification.Severity {
        levels.withLockedValue { $0[id] } ?? settings.defaultLevel
    }

    /// Sets (and stores) a node's level, and tells its agent when it runs.
    public func setLevel(_ level: NodeNotification.Severity, for id: UUID) async throws {
        try await settingStore.setSetting(Self.levelKeyPrefix + id.uuidString, Data(level.rawValue.utf8))
        levels.withLockedValue { $0[id] = level }
        if let collector = collectors[id] { try await collector.setLevel(level) }
    }
}
