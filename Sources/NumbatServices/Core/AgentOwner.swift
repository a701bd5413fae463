import ErlangDist
import ErlangTerm
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// The Numbat side of one agent on one node, for a service's per-node part: the task that
/// runs it, and the mailbox the agent monitors as its owner. Stopping cancels the task and
/// closes the mailbox, which makes the agent remove itself from the node.
final class AgentOwner: Sendable {
    /// The running task, dropped when it ends (a finished task kept would keep the memory of
    /// its deepest calls), and which `run` made it.
    private let task = NIOLockedValueBox<(generation: Int, task: Task<Void, Never>?)>((0, nil))
    private let mailbox = NIOLockedValueBox<Mailbox?>(nil)
    /// Whether the agent's messages arrive decoded flat (`.flatMessage`), for an agent whose
    /// messages are read once and dropped (`LocalNode.makeMailbox(name:flat:)`).
    private let flatMessages: Bool

    init(flatMessages: Bool = false) {
        self.flatMessages = flatMessages
    }

    /// How many per-node parts' tasks are running now, over every service and node, counted
    /// from their start to the end of their body: DOWN stops a node's, UP starts them, so under
    /// flapping links the figure (`node_workers` in `/api/health`) stays flat unless one is
    /// left running.
    static let running = NIOLockedValueBox(0)

    /// Runs the per-node part, preferring the event loop of the node's connection (when it is
    /// up) as its executor: its calls to the node then go out and come back on that loop's
    /// thread, with no hop to and from Swift's shared pool per call (`EventLoopTaskExecutor`).
    /// So the part must never block; it awaits the store like anything else.
    func run(for node: ManagedNode, nodes: NodeManager, _ body: @escaping @Sendable () async -> Void) {
        let executor = nodes.taskExecutor(for: node.name)
        Self.running.withLockedValue { $0 += 1 }
        // Made under the lock, so the task's own clearing (which takes the lock) comes after it
        // is stored.
        task.withLockedValue { current in
            current.generation += 1
            let generation = current.generation
            current.task = Task(executorPreference: executor) { [self] in
                await body()
                Self.running.withLockedValue { $0 -= 1 }
                self.task.withLockedValue { if $0.generation == generation { $0.task = nil } }
            }
        }
    }

    func stop() async {
        let running = task.withLockedValue { $0.task }
        running?.cancel()
        mailbox.withLockedValue { $0 }?.close(reason: .atom("shutdown"))
        await running?.value
    }

    /// Whether a failed launch is worth telling the operator about (an `agentUnavailable` event,
    /// a warning). Not when the worker is being stopped, nor when the node's connection went:
    /// a node handed to another server, or gone, is reported by the node manager; before this,
    /// a hand-over of thousands of nodes raised hundreds of "agent unavailable" warnings for
    /// nodes that were fine under their new server.
    static func isWorthReporting(_ error: any Error) -> Bool {
        if Task.isCancelled { return false }
        if let error = error as? DistributionError, error.isConnectionLoss { return false }
        return true
    }

    /// Injects the agent `name` and starts it with `Name:start(OwnerPid, Options)`, owned by
    /// this owner's mailbox (made once, reused when the agent is started again). Throws
    /// `NumbatError` `agent_start_failed` with the node's answer.
    func launch(_ name: String, on node: ManagedNode, nodes: NodeManager, options: Term = .map([:])) async throws -> Mailbox {
        let agent = try Agent.named(name)
        let owner = try mailbox.withLockedValue { current in
            if let current, !current.isClosed { return current }
            current = try nodes.local.makeMailbox(flat: flatMessages)
            return current!
        }
        // Called from tasks that end once the agent is started (the owner's, a collection's),
        // so the injection's deep frames go with them.
        let pid = owner.pid(for: try NodeName(node.name))
        _ = try await nodes.inject(agent, into: node)
        let started = try await nodes.rpc(node, agent.module, "start", [.pid(pid), options])
        guard started[element: 0] == .atom("ok") else {
            throw NumbatError(.unavailable, "agent_start_failed", "\(name) did not start on \(node.name): \(started.erlangDescription)")
        }
        return owner
    }
}
