import ErlangDist
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// The per-node part of the node manager: one task per managed node that connects, marks the
/// node UP, waits for the connection to go, marks it DOWN and tries again on the
/// `ReconnectSchedule`, until the node is unmanaged.
final class NodeSupervisor: Sendable {
    let name: NodeName
    private let manager: NodeManager
    private let state: NIOLockedValueBox<State>

    private struct State {
        var node: ManagedNode
        var task: Task<Void, Never>?
        /// Resumed when the connection is lost while we wait on it.
        var lostWaiter: CheckedContinuation<String, Never>?
        var pendingLoss: String?
    }

    init(node: ManagedNode, name: NodeName, manager: NodeManager) {
        self.name = name
        self.manager = manager
        self.state = NIOLockedValueBox(State(node: node))
    }

    var node: ManagedNode { state.withLockedValue { $0.node } }

    func start() {
        let task = Task { await self.run() }
        state.withLockedValue { $0.task = task }
    }

    func cancel() {
        state.withLockedValue { $0.task }?.cancel()
        connectionLost(reason: "unmanaged")
    }

    /// Stops the task and closes the connection; waits for both.
    func stop() async {
        let task = state.withLockedValue { $0.task }
        cancel()
        await task?.value
        await manager.local.disconnect(name)
    }

    /// Called by the manager on a `nodedown` for this node.
    func connectionLost(reason: String) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<String, Never>? in
            defer { state.lostWaiter = nil }
            if state.lostWaiter == nil { state.pendingLoss = reason }
            return state.lostWaiter
        }
        waiter?.resume(returning: reason)
    }

    private func run() async {
        var schedule = ReconnectSchedule(initial: manager.settings.reconnectInitial, maximum: manager.settings.reconnectMaximum)
        while !Task.isCancelled {
            state.withLockedValue { $0.pendingLoss = nil }
            do {
                try await manager.local.connect(to: name)
                let info = try await NodeInfo.fetch(from: manager.local, node: name, timeout: manager.settings.callTimeout)
                try Task.checkCancellation()
                var node = self.node
                // A node whose boot script changed (upgraded release) moves to that script's
                // automatic family; deployment families keep their nodes.
                if node.bootScript != info.bootScript || node.familyID == nil {
                    let current = try await node.familyID.asyncMap { try await manager.store.family(id: $0) } ?? nil
                    if current == nil || current?.kind == .automatic {
                        node.familyID = try await manager.family(for: info).id
                    }
                }
                node.otpRelease = info.otpRelease
                node.bootScript = info.bootScript
                await transition(to: .up, reason: nil, updating: node)
                schedule.reset()
                let reason = await waitForLoss()
                if Task.isCancelled { return }
                await transition(to: .down, reason: reason)
            } catch {
                if Task.isCancelled { return }
                await transition(to: .down, reason: "\(error)")
                try? await Task.sleep(for: schedule.nextDelay())
            }
        }
    }

    /// Waits until the connection is lost (or the supervisor is cancelled).
    private func waitForLoss() async -> String {
        await withCheckedContinuation { continuation in
            let immediate = state.withLockedValue { state -> String? in
                if let loss = state.pendingLoss ?? (Task.isCancelled ? "unmanaged" : nil) { return loss }
                state.lostWaiter = continuation
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    private func transition(to newState: NodeState, reason: String?, updating updated: ManagedNode? = nil) async {
        let (node, previous) = state.withLockedValue { state -> (ManagedNode, NodeState) in
            let previous = state.node.state
            var node = updated ?? state.node
            if node.state != newState { node.stateChangedAt = Date() }
            node.state = newState
            node.lastError = reason
            state.node = node
            return (node, previous)
        }
        // Repeated failures while DOWN are stored (the reason may change) but not re-published.
        await manager.record(node, from: previous)
    }
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
