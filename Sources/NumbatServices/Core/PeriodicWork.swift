import ErlangDist
import NIOConcurrencyHelpers
import NIOCore

/// Work a per-node part repeats (a node's metric collection, its alarm checks): between runs a
/// timer on the node's connection's event loop, not a task that waits.
///
/// Why: a task that lives as long as its node keeps its frames and its task allocator's slabs
/// while it waits (4 KB per node for the metrics loop, 3 KB for the alarm checks, by a heaptrack
/// profile of 300 simulated nodes); a timer holds one closure. Each run is a task of its own,
/// made when the timer fires (preferring the node's event loop as its executor, as the per-node
/// parts do: its calls to the node then cost no thread hop) and gone when the run ends. The next
/// timer is set when a run ends, after the wait the run returns, so runs never overlap and a slow
/// run delays only its own node.
final class PeriodicWork: Sendable {
    /// The node's connection's task executor while it is connected (runs prefer it), and the
    /// event loop whose timer waits between runs (the executor's, else any of the server's).
    typealias Locate = @Sendable () -> (executor: EventLoopTaskExecutor?, eventLoop: any EventLoop)

    private struct State {
        var timer: Scheduled<Void>?
        var run: Task<Void, Never>?
        /// One run; returns how long to wait before the next. Dropped at `stop()` (it holds the
        /// worker that holds this).
        var body: (@Sendable () async -> Duration)?
        var started = false
        var stopped = false
    }

    private let state = NIOLockedValueBox(State())
    private let locate: Locate

    /// How many are started and not stopped, over every service and node (`node_workers` in
    /// `/api/health` counts them with the workers' tasks).
    static let active = NIOLockedValueBox(0)

    init(locate: @escaping Locate) {
        self.locate = locate
    }

    /// Runs `body` after `delay`, then again after each wait it returns, until `stop()`. Once
    /// only: after `stop()` (even before it) it does nothing.
    func start(after delay: Duration = .zero, _ body: @escaping @Sendable () async -> Duration) {
        let starting = state.withLockedValue { state -> Bool in
            guard !state.started, !state.stopped else { return false }
            state.started = true
            state.body = body
            return true
        }
        guard starting else { return }
        Self.active.withLockedValue { $0 += 1 }
        schedule(after: delay)
    }

    /// Cancels the timer, or the run under way and waits for its end. No run starts after it.
    func stop() async {
        let (running, wasActive) = state.withLockedValue { state -> (Task<Void, Never>?, Bool) in
            defer { state.stopped = true }
            guard !state.stopped else { return (nil, false) }
            state.body = nil
            state.timer?.cancel()
            state.timer = nil
            return (state.run, state.started)
        }
        if wasActive { Self.active.withLockedValue { $0 -= 1 } }
        running?.cancel()
        await running?.value
    }

    private func schedule(after delay: Duration) {
        let eventLoop = locate().eventLoop
        state.withLockedValue { state in
            guard !state.stopped else { return }
            state.timer = eventLoop.scheduleTask(in: TimeAmount(max(.zero, delay))) { self.fire() }
        }
    }

    private func fire() {
        let executor = locate().executor
        state.withLockedValue { state in
            guard !state.stopped, let body = state.body else { return }
            state.timer = nil
            // Made under the lock, so `stop()` either finds it or is seen by it; the task's body
            // runs later, on its executor.
            state.run = Task(executorPreference: executor) {
                let wait = await body()
                self.state.withLockedValue { $0.run = nil }
                self.schedule(after: wait)
            }
        }
    }
}
