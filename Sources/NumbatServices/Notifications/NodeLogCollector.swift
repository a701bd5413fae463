import ErlangDist
import ErlangTerm
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// The notifications service's per-node part: injects the log agent (`numbat_log_agent`),
/// owned by a mailbox of its own, and turns the batches it sends into notifications. Closing
/// the mailbox makes the agent remove its logger handler and itself from the node.
final class NodeLogCollector: NodeWorker {
    let node: ManagedNode
    private let service: NotificationsService
    /// The agent's batches arrive decoded flat and are read in place (`FlatTerm`): a batch of
    /// 50 events decoded into `Term`s costs 402,000 instructions, flat 71,000.
    private let owner = AgentOwner(flatMessages: true)
    /// The agent's batches, recorded one at a time by a task that exists only while there are
    /// some (`SerialInbox`): no task waits per node between batches.
    private let batches: SerialInbox<MailboxMessage>
    static let agentName = "numbat_log_agent"
    static let lagerBackendName = "numbat_lager_backend"

    init(node: ManagedNode, service: NotificationsService) {
        self.node = node
        self.service = service
        self.batches = service.nodes.serialInbox(near: node)
    }

    /// Starts the agent (in a task that ends once it is started or found unavailable); its
    /// batches then go to the inbox as they arrive.
    func start() {
        let level = service.level(for: node.id)
        owner.run(for: node, nodes: service.nodes) {
            guard let mailbox = await self.launchAgent(level: level) else { return }
            self.batches.start { await self.record($0) }
            mailbox.deliverEach { [batches = self.batches] message in
                if let message { batches.post(message) }
            }
        }
    }

    func stop() async {
        await batches.stop()
        await owner.stop()
    }

    /// Changes the node's level; the agent's handler filters from then on.
    func setLevel(_ level: NodeNotification.Severity) async throws {
        _ = try await service.nodes.rpc(node, Atom(Self.agentName), "set_level", [.atom(Atom(level.rawValue))])
    }

    /// Starts the agent (and lager's backend where lager runs); nil, said, when it cannot run.
    private func launchAgent(level: NodeNotification.Severity) async -> Mailbox? {
        do {
            // lager's backend goes first, so the agent finds it when lager runs; without it
            // (a node that refuses it) the agent collects from logger alone.
            if try await service.nodes.rpc(node, "erlang", "whereis", [.atom("lager_event")]) != .atom(.undefined) {
                do {
                    _ = try await service.nodes.inject(try Agent.named(Self.lagerBackendName), into: node)
                } catch {
                    service.logger.warning("lager backend unavailable", metadata: ["node": "\(node.name)", "error": "\(error)"])
                }
            }
            let options: Term = .map([.atom("level"): .atom(Atom(level.rawValue)),
                                      .atom("max_rate"): .integer(service.settings.maxRatePerNode)])
            return try await owner.launch(Self.agentName, on: node, nodes: service.nodes, options: options)
        } catch {
            let reason = (error as? NumbatError)?.message ?? "\(error)"
            guard AgentOwner.isWorthReporting(error) else {
                service.logger.debug("log agent not started: the node went", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
                return nil
            }
            service.logger.warning("log agent unavailable", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
            service.bus.publish(.agentUnavailable(node: node, agent: Self.agentName, reason: reason, fallback: "no log collection"))
            await service.record([NodeNotification(nodeID: node.id, nodeName: node.name, time: Date(), severity: .warning,
                                                   source: .numbat, message: "log collection unavailable on \(node.name): \(reason)")])
            return nil
        }
    }

    /// One of the agent's batches, recorded.
    private func record(_ message: MailboxMessage) async {
        let received: FlatTerm
        switch message {
        case .flatMessage(let flat, _):
            received = flat
        case .message(let term, _):
            // Only if it came another way than the connection's flat decoding.
            guard let flat = try? FlatTerm(decoding: term.encoded()) else { return }
            received = flat
        case .down, .exit:
            return
        }
        let (notifications, dropped) = Self.notifications(from: received.root, node: node)
        var batch = notifications
        if dropped > 0 {
            batch.append(NodeNotification(nodeID: node.id, nodeName: node.name, time: Date(), severity: .warning, source: .numbat,
                                          message: "\(dropped) log event(s) on \(node.name) were dropped to protect the node (rate or queue limit)",
                                          metadata: ["dropped": "\(dropped)"]))
        }
        if !batch.isEmpty { await service.record(batch) }
    }

    /// Reads the agent's `{numbat_logs, [{Time, Level, Text, Meta} | {Time, Level, Text, Meta, lager}], Dropped}`
    /// in place.
    static func notifications(from message: FlatTerm.Element, node: ManagedNode) -> ([NodeNotification], Int) {
        guard message.kind == .tuple, message.count == 3, message.element(0)?.isAtom("numbat_logs") == true,
              let entries = message.element(1), entries.kind == .list
        else { return ([], 0) }
        let dropped = message.element(2)?.integer ?? 0
        var notifications: [NodeNotification] = []
        notifications.reserveCapacity(entries.count)
        for index in 0..<entries.count {
            guard let entry = entries.element(index), entry.kind == .tuple, entry.count == 4 || entry.count == 5,
                  let micros = entry.element(0)?.integer,
                  let level = entry.element(1)?.atomName.flatMap({ NodeNotification.Severity(rawValue: $0) }),
                  let text = entry.element(2), let meta = entry.element(3)
            else { continue }
            var metadata: [String: String] = [:]
            if meta.kind == .list {
                for pairIndex in 0..<meta.count {
                    guard let pair = meta.element(pairIndex), pair.kind == .tuple, pair.count == 2,
                          let key = pair.element(0)?.stringValue, let value = pair.element(1)
                    else { continue }
                    metadata[key] = Self.text(value)
                }
            }
            let lager = entry.count == 5 && entry.element(4)?.isAtom("lager") == true
            notifications.append(NodeNotification(nodeID: node.id, nodeName: node.name, time: Date(timeIntervalSince1970: Double(micros) / 1e6),
                                                  severity: level, source: lager ? .lager : .logger, message: Self.text(text), metadata: metadata))
        }
        return (notifications, dropped)
    }

    /// Text that is not UTF-8 (a binary in a report) is shown, never refused; any other term
    /// as Erlang prints it.
    private static func text(_ element: FlatTerm.Element) -> String {
        element.stringValue ?? element.bytes.map { String(decoding: $0, as: UTF8.self) } ?? element.term.erlangDescription
    }
}
