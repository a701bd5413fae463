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
    private let task = NIOLockedValueBox<Task<Bool, Never>?>(nil)
    private let owner = NIOLockedValueBox<Mailbox?>(nil)
    static let agentName = "numbat_command_agent"

    init(node: ManagedNode, service: CommandsService) {
        self.node = node
        self.service = service
    }

    func start() {
        task.withLockedValue { $0 = Task { await self.prepare() } }
    }

    func stop() async {
        let running = task.withLockedValue { $0 }
        running?.cancel()
        owner.withLockedValue { $0 }?.close(reason: .atom("shutdown"))
        _ = await running?.value
    }

    /// Whether the agent runs (waits for its start).
    func ready() async -> Bool {
        await task.withLockedValue { $0 }?.value ?? false
    }

    private func prepare() async -> Bool {
        do {
            let mailbox = try service.nodes.local.makeMailbox()
            owner.withLockedValue { $0 = mailbox }
            let agent = try Agent.named(Self.agentName)
            _ = try await service.nodes.inject(agent, into: node)
            let started = try await service.nodes.rpc(node, agent.module, "start", [.pid(mailbox.pid(for: try NodeName(node.name))), .map([:])])
            guard started[element: 0] == .atom("ok") else {
                throw NumbatError(.unavailable, "agent_start_failed", "the command agent did not start: \(started.erlangDescription)")
            }
            return true
        } catch {
            if Task.isCancelled { return false }
            let reason = (error as? NumbatError)?.message ?? "\(error)"
            service.logger.warning("command agent unavailable", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
            service.bus.publish(.agentUnavailable(node: node, agent: Self.agentName, reason: reason, fallback: "no process or ETS explorers"))
            return false
        }
    }
}
