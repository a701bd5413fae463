import ErlangDist
import ErlangTerm
import Foundation
import Logging
import NumbatCore

/// The commands service's master part (seed 2.2 item 7): remote calls with a timeout, each
/// recorded in the audit log before its answer goes back, and the read-only explorers (top
/// processes, process info, ETS tables) through a command agent per UP node.
public final class CommandsService: NumbatService {
    public struct Settings: Sendable {
        public var defaultTimeout: Duration = .seconds(5)
        public var maximumTimeout: Duration = .seconds(60)
        /// Explorers refuse nodes with more processes than this (one call must stay cheap).
        public var maxProcessScan = 250_000
        public init() {}
    }

    /// A remote call's answer: the result as JSON and in Erlang syntax, and its audit entry.
    public struct CallResult: Sendable {
        public var result: Term
        public var audit: AuditEntry
    }

    public let name = "commands"
    let nodes: NodeManager
    let bus: EventBus
    let store: any NodeReader & FamilyStore
    let audit: any AuditStore
    let logger: Logger
    let settings: Settings
    private let agents = NodeWorkers<NodeCommandAgent>()
    private let events = NodeFollower()

    public init(context: ServiceContext, audit: any AuditStore, settings: Settings = Settings()) {
        nodes = context.nodes
        bus = context.bus
        store = context.store
        logger = context.logger
        self.audit = audit
        self.settings = settings
    }

    public func start() async throws {
        await events.follow(bus, manager: nodes) { [weak self] change in
            guard let self else { return }
            switch change {
            case .up(let node, _): self.startAgent(node)
            case .notUp(let node): await self.agents.stop(node.id)
            case .removed(let id), .released(let id): await self.agents.stop(id)
            }
        }
    }

    public func stop() async {
        await events.stop()
        await agents.stopAll()
    }

    private func startAgent(_ node: ManagedNode) {
        agents.start(node.id) { NodeCommandAgent(node: node, service: self) }
    }

    /// Calls `module:function(arguments)` on the node and records it; a call that fails is
    /// recorded too, then thrown as `NumbatError` (`rpc_failed`, `rpc_timeout`, `node_unavailable`).
    public func call(_ node: ManagedNode, _ module: Atom, _ function: Atom, _ arguments: [Term], timeout: Duration?,
                     actor: String) async throws -> CallResult {
        let timeout = min(timeout ?? settings.defaultTimeout, settings.maximumTimeout)
        let command = Self.clipped("\(module.description):\(function.description)(\(arguments.map(\.erlangDescription).joined(separator: ", ")))")
        let started = ContinuousClock.now
        var outcome = AuditEntry.Outcome.ok
        var text = ""
        var failure: NumbatError?
        var result: Term = .atom(.undefined)
        do {
            result = try await nodes.rpc(node, module, function, arguments, timeout: timeout)
            text = result.erlangDescription
        } catch let error as DistributionError {
            switch error {
            case .badRPC(let reason):
                outcome = .error
                text = reason.erlangDescription
                failure = NumbatError(.unprocessable, "rpc_failed", "the call failed on \(node.name): \(Self.clipped(text))")
            case .timeout:
                outcome = .timeout
                text = "no answer within \(timeout)"
                failure = NumbatError(.timeout, "rpc_timeout", "\(node.name) did not answer within \(timeout)")
            default:
                outcome = .error
                text = "\(error)"
                failure = NumbatError(.unavailable, "node_unavailable", "\(node.name) cannot be reached: \(error)")
            }
        }
        let elapsed = ContinuousClock.now - started
        let entry = AuditEntry(time: Date(), actor: actor, nodeID: node.id, nodeName: node.name, command: command, outcome: outcome,
                               result: Self.clipped(text), durationMilliseconds: Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
        let stored = try await audit.appendAudit(entry)
        // The arguments stay out of the log (they may hold secrets); the audit log has them.
        logger.notice("remote command", metadata: ["actor": "\(actor)", "node": "\(node.name)", "function": "\(module.name):\(function.name)/\(arguments.count)",
                                                   "outcome": "\(outcome.rawValue)", "audit": "\(stored.id)"])
        if let failure { throw failure }
        return CallResult(result: result, audit: stored)
    }

    /// Calls one of the command agent's explorers; throws `explorer_unavailable` without the agent.
    func explore(_ node: ManagedNode, _ function: Atom, _ arguments: [Term]) async throws -> Term {
        guard let agent = agents[node.id], await agent.ready() else {
            throw NumbatError(.unavailable, "explorer_unavailable", "the explorers are not available on \(node.name) (is it UP?)")
        }
        let reply = try await nodes.rpc(node, Atom(NodeCommandAgent.agentName), function, arguments, timeout: .seconds(15))
        guard reply[element: 0] == .atom("ok"), let value = reply[element: 1] else {
            let reason = reply[element: 1]?.erlangDescription ?? reply.erlangDescription
            switch reason {
            case "too_many_processes":
                throw NumbatError(.unprocessable, "too_many_processes", "\(node.name) has more than \(settings.maxProcessScan) processes; the scan is refused to spare it")
            case "no_such_process": throw NumbatError.notFound("process_not_found", "no such process on \(node.name)")
            // The pid was well formed (`pid(_:)`) but names no process the node can have.
            case "bad_pid": throw NumbatError.notFound("process_not_found", "no such process on \(node.name)")
            default: throw NumbatError(.unavailable, "explorer_failed", "the explorer failed on \(node.name): \(reason)")
            }
        }
        return value
    }

    static func clipped(_ text: String) -> String {
        text.count <= 4096 ? text : String(text.prefix(4096)) + "..."
    }
}
