import ErlangDist
import ErlangTerm
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// The alarms service's per-node part: injects the alarm agent (`numbat_alarm_agent`), owned
/// by a mailbox of its own, turns SASL's alarms and those of the applications' own alarm
/// managers (RabbitMQ's `rabbit_alarm`, ...) into Numbat's (sync, set, clear) and runs the
/// built-in checks every interval. Closing the mailbox makes the agent leave the node.
final class NodeAlarmWatcher: NodeWorker {
    let node: ManagedNode
    private let service: AlarmsService
    private let owner = AgentOwner()
    /// The built-in checks, every interval (a timer between them, not a task: `PeriodicWork`).
    private let checks: PeriodicWork
    /// The agent's messages, handled one at a time by a task that exists only while there are
    /// some (`SerialInbox`).
    private let messages: SerialInbox<MailboxMessage>
    /// The built-in alarms active on the node, by key, so a check raises only what changed.
    private let builtIn = NIOLockedValueBox<[String: Alarm.Severity]>([:])
    static let agentName = "numbat_alarm_agent"

    init(node: ManagedNode, service: AlarmsService) {
        self.node = node
        self.service = service
        self.checks = service.nodes.periodicWork(near: node, in: service.checkRuns)
        self.messages = service.nodes.serialInbox(near: node)
    }

    /// Starts the agent (in a task that ends once it is started or found unavailable), then
    /// the checks on their timer and the agent's messages through the inbox: no task waits per
    /// node between them.
    func start() {
        owner.run(for: node, nodes: service.nodes) {
            guard let mailbox = await self.launchAgent() else { return }
            self.checks.start {
                await self.checkOnce()
                return .milliseconds(Int(self.service.thresholds.intervalSeconds * 1000))
            }
            self.messages.start { message in
                if case .message(let term, _) = message { await self.handle(term) }
            }
            mailbox.deliverEach { [messages = self.messages, checks = self.checks] message in
                if let message {
                    messages.post(message)
                } else {
                    // The mailbox closed (its owner stopped, or the local node shut down): the
                    // checks end with it, as the agent does.
                    Task { await checks.stop() }
                }
            }
        }
    }

    func stop() async {
        await checks.stop()
        await messages.stop()
        await owner.stop()
    }

    /// Reads the node's active built-in alarms and starts the agent; nil, said, when it cannot run.
    private func launchAgent() async -> Mailbox? {
        do {
            let active = try await service.alarms.activeAlarms(nodeID: node.id).filter { $0.source == .builtin }
            builtIn.withLockedValue { $0 = Dictionary(active.map { ($0.key, $0.severity) }, uniquingKeysWith: { $1 }) }
            let managers = Term.list(service.thresholds.alarmManagers.map { .atom(Atom($0)) })
            return try await owner.launch(Self.agentName, on: node, nodes: service.nodes, options: .map([.atom("managers"): managers]))
        } catch {
            let reason = (error as? NumbatError)?.message ?? "\(error)"
            guard AgentOwner.isWorthReporting(error) else {
                service.logger.debug("alarm agent not started: the node went", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
                return nil
            }
            service.logger.warning("alarm agent unavailable", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
            service.bus.publish(.agentUnavailable(node: node, agent: Self.agentName, reason: reason, fallback: "no SASL or built-in alarms"))
            return nil
        }
    }

    /// SASL's: `{numbat_alarms, sync, Alarms | unavailable}`, `{numbat_alarms, set, Id,
    /// Description}`, `{numbat_alarms, clear, Id}`; another manager M's: the same after
    /// `{numbat_manager_alarms, M, ...`.
    private func handle(_ term: Term) async {
        guard var parts = term.tupleElements, parts.count >= 3 else { return }
        let manager: ManagerAlarm
        switch parts[0] {
        case .atom("numbat_alarms"):
            manager = .sasl
            parts.removeFirst()
        case .atom("numbat_manager_alarms"):
            guard let name = parts[1].atomValue?.name else { return }
            manager = ManagerAlarm(manager: name)
            parts.removeFirst(2)
        default:
            return
        }
        switch (parts[0].atomValue?.name, parts.count) {
        case ("sync", 2):
            guard let alarms = parts[1].listElements else { return }
            let raises = alarms.compactMap { alarm -> AlarmRaise? in
                guard let pair = alarm.tupleElements, pair.count == 2 else { return nil }
                return manager.raise(id: pair[0], description: pair[1], node: node)
            }
            await service.sync(raises, from: manager, node: node)
        case ("set", 3):
            await service.raise(manager.raise(id: parts[1], description: parts[2], node: node), repeat: true)
        case ("clear", 2):
            await service.clear(node: node, key: manager.key(parts[1]), reason: "cleared on the node (\(manager.manager))")
        default:
            break
        }
    }

    /// One check: the agent's facts, the built-in conditions, then raise what is new or changed
    /// and clear what no longer holds.
    func checkOnce() async {
        let thresholds = service.thresholds
        let options: Term = .map([.atom("queue_threshold"): .integer(Int(thresholds.messageQueue?.minor ?? 10_000)),
                                  .atom("max_scan"): .integer(service.settings.maxProcessScan)])
        var facts: AlarmFacts
        do {
            let sent = Date()
            let reply = try await service.nodes.rpc(node, Atom(Self.agentName), "check", [options, .integer(10_000)], timeout: .seconds(12))
            let received = Date()
            guard reply[element: 0] == .atom("ok"), let read = reply[element: 1].flatMap(AlarmFacts.init) else {
                service.logger.debug("alarm check failed", metadata: ["node": "\(node.name)", "reply": "\(reply.erlangDescription)"])
                return
            }
            facts = read
            facts.clockSkewSeconds = facts.nodeTimeMilliseconds.map { BuiltInChecks.clockSkew(nodeMilliseconds: $0, sent: sent, received: received) }
        } catch {
            if !Task.isCancelled { service.logger.debug("alarm check failed", metadata: ["node": "\(node.name)", "error": "\(error)"]) }
            return
        }
        let conditions = BuiltInChecks.evaluate(facts, thresholds) + service.familyMismatches(node: node, facts, thresholds)
        let known = builtIn.withLockedValue { $0 }
        for condition in conditions where known[condition.key] != condition.severity {
            await service.raise(AlarmRaise(nodeID: node.id, nodeName: node.name, key: condition.key, source: .builtin,
                                           severity: condition.severity, summary: condition.summary, details: condition.details), repeat: true)
        }
        let holding = Set(conditions.map(\.key))
        for key in known.keys where !holding.contains(key) {
            await service.clear(node: node, key: key, reason: "the condition no longer holds")
        }
        builtIn.withLockedValue { $0 = Dictionary(conditions.map { ($0.key, $0.severity) }, uniquingKeysWith: { $1 }) }
    }
}

/// An alarm manager's alarms as Numbat's: SASL's `alarm_handler` (keys `sasl:ID`) or an
/// application's (keys `MANAGER:ID`, RabbitMQ's `rabbit_alarm:{resource_limit,memory,Node}`).
/// The id (any term) is the identity; the description is shown as the node would print it.
struct ManagerAlarm: Sendable, Equatable {
    /// The registered name of the manager on the node.
    var manager: String

    static let sasl = ManagerAlarm(manager: "alarm_handler")

    var source: Alarm.Source { self == .sasl ? .sasl : .application }
    var keyPrefix: String { self == .sasl ? "sasl:" : manager + ":" }

    func key(_ id: Term) -> String { keyPrefix + Self.clipped(id.erlangDescription, 1000) }

    func raise(id: Term, description: Term, node: ManagedNode) -> AlarmRaise {
        // RabbitMQ's resource alarms carry an empty description: the id says it all.
        let said = description == .list([]) ? "" : ": \(Self.text(description))"
        return AlarmRaise(nodeID: node.id, nodeName: node.name, key: key(id), source: source, severity: .major,
                          summary: Self.clipped("\(self == .sasl ? "" : manager + ": ")\(Self.text(id))\(said)", 500),
                          details: Self.clipped(description.erlangDescription, 8192))
    }

    /// Strings as text; any other term in Erlang syntax.
    static func text(_ term: Term) -> String {
        if case .list = term, let string = term.stringValue { return string }
        return term.erlangDescription
    }

    static func clipped(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "..."
    }
}
