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
    private let owner = AgentOwner()
    static let agentName = "numbat_log_agent"
    static let lagerBackendName = "numbat_lager_backend"

    init(node: ManagedNode, service: NotificationsService) {
        self.node = node
        self.service = service
    }

    func start() {
        let level = service.level(for: node.id)
        owner.run(for: node, nodes: service.nodes) { await self.run(level: level) }
    }

    func stop() async {
        await owner.stop()
    }

    /// Changes the node's level; the agent's handler filters from then on.
    func setLevel(_ level: NodeNotification.Severity) async throws {
        _ = try await service.nodes.rpc(node, Atom(Self.agentName), "set_level", [.atom(Atom(level.rawValue))])
    }

    private func run(level: NodeNotification.Severity) async {
        let mailbox: Mailbox
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
            mailbox = try await owner.launch(Self.agentName, on: node, nodes: service.nodes, options: options)
        } catch {
            let reason = (error as? NumbatError)?.message ?? "\(error)"
            guard AgentOwner.isWorthReporting(error) else {
                service.logger.debug("log agent not started: the node went", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
                return
            }
            service.logger.warning("log agent unavailable", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
            service.bus.publish(.agentUnavailable(node: node, agent: Self.agentName, reason: reason, fallback: "no log collection"))
            await service.record([NodeNotification(nodeID: node.id, nodeName: node.name, time: Date(), severity: .warning,
                                                   source: .numbat, message: "log collection unavailable on \(node.name): \(reason)")])
            return
        }
        for await message in mailbox {
            guard case .message(let term, _) = message else { continue }
            let (notifications, dropped) = Self.notifications(from: term, node: node)
            var batch = notifications
            if dropped > 0 {
                batch.append(NodeNotification(nodeID: node.id, nodeName: node.name, time: Date(), severity: .warning, source: .numbat,
                                              message: "\(dropped) log event(s) on \(node.name) were dropped to protect the node (rate or queue limit)",
                                              metadata: ["dropped": "\(dropped)"]))
            }
            if !batch.isEmpty { await service.record(batch) }
        }
    }

    /// Reads the agent's `{numbat_logs, [{Time, Level, Text, Meta} | {Time, Level, Text, Meta, lager}], Dropped}`.
    static func notifications(from term: Term, node: ManagedNode) -> ([NodeNotification], Int) {
        guard let parts = term.tupleElements, parts.count == 3, parts[0] == .atom("numbat_logs") else { return ([], 0) }
        let dropped = parts[2].intValue ?? 0
        let entries = (parts[1].listElements ?? []).compactMap { entry -> NodeNotification? in
            guard let fields = entry.tupleElements, fields.count == 4 || fields.count == 5, let micros = fields[0].intValue,
                  let level = fields[1].atomValue.flatMap({ NodeNotification.Severity(rawValue: $0.name) })
            else { return nil }
            // Text that is not UTF-8 (a binary in a report) is shown, never refused.
            let message = fields[2].stringValue ?? fields[2].binaryValue.map { String(decoding: $0, as: UTF8.self) } ?? fields[2].erlangDescription
            var metadata: [String: String] = [:]
            for pair in fields[3].listElements ?? [] {
                guard let kv = pair.tupleElements, kv.count == 2, let key = kv[0].stringValue else { continue }
                metadata[key] = kv[1].stringValue ?? kv[1].binaryValue.map { String(decoding: $0, as: UTF8.self) } ?? kv[1].erlangDescription
            }
            return NodeNotification(nodeID: node.id, nodeName: node.name, time: Date(timeIntervalSince1970: Double(micros) / 1e6),
                                    severity: level, source: fields.count == 5 && fields[4] == .atom("lager") ? .lager : .logger, message: message, metadata: metadata)
        }
        return (entries, dropped)
    }
}
