import ErlangDist
import ErlangTerm
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// The commands service's per-node part: injects the command agent (`numbat_command_agent`,
/// the explorers), owned by a mailbox of its own; closing the mailbox makes it leave the node.
final class NodeCommandAgent: NodeWorker {
    let node: ManagedNode
    private let service: CommandsService
    private let owner = AgentOwner()
    /// Whether the agent runs, once its start was tried; until then, who waits to know.
    private let readiness = NIOLockedValueBox(Readiness.starting(waiting: []))

    private enum Readiness {
        case starting(waiting: [CheckedContinuation<Bool, Never>])
        case known(Bool)
    }
    static let agentName = "numbat_command_agent"

    init(node: ManagedNode, service: CommandsService) {
        self.node = node
        self.service = service
    }

    /// Starts the agent in the owner's task, which then ends: only the answer is kept (a
    /// finished task kept as the answer's holder kept the launch's memory, ~6 KB per node).
    func start() {
        owner.run(for: node, nodes: service.nodes) { [self] in
            let running = await prepare()
            let waiting = readiness.withLockedValue { readiness -> [CheckedContinuation<Bool, Never>] in
                defer { readiness = .known(running) }
                if case .starting(let waiting) = readiness { return waiting }
                return []
            }
            for waiter in waiting { waiter.resume(returning: running) }
        }
    }

    /// Stops the start if it still runs (which then answers false).
    func stop() async {
        await owner.stop()
    }

    /// Whether the agent runs (waits for its start).
    func ready() async -> Bool {
        await withCheckedContinuation { continuation in
            let known = readiness.withLockedValue { readiness -> Bool? in
                switch readiness {
                case .known(let running): return running
                case .starting(var waiting):
                    waiting.append(continuation)
                    readiness = .starting(waiting: waiting)
                    return nil
                }
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    private func prepare() async -> Bool {
        do {
            _ = try await owner.launch(Self.agentName, on: node, nodes: service.nodes)
            return true
        } catch {
            let reason = (error as? NumbatError)?.message ?? "\(error)"
            guard AgentOwner.isWorthReporting(error) else {
                service.logger.debug("command agent not started: the node went", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
                return false
            }
            service.logger.warning("command agent unavailable", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
            service.bus.publish(.agentUnavailable(node: node, agent: Self.agentName, reason: reason, fallback: "no process or ETS explorers"))
            return false
        }
    }
}
