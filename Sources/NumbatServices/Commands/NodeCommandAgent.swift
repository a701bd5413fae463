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
    /// Set once the start was tried: whether the agent runs.
    private let started = NIOLockedValueBox<Task<Bool, Never>?>(nil)
    static let agentName = "numbat_command_agent"

    init(node: ManagedNode, service: CommandsService) {
        self.node = node
        self.service = service
    }

    func start() {
        let preparing = Task { await self.prepare() }
        started.withLockedValue { $0 = preparing }
        owner.run(for: node, nodes: service.nodes) { _ = await preparing.value }
    }

    func stop() async {
        started.withLockedValue { $0 }?.cancel()
        await owner.stop()
    }

    /// Whether the agent runs (waits for its start).
    func ready() async -> Bool {
        await started.withLockedValue { $0 }?.value ?? false
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
