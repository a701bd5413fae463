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

        /// Whether anything of it is alive: a timer set or a run under way.
        var isLive: Bool { timer != nil || run != nil }
    }

    private let state = NIOLockedValueBox(State())
    private let locate: Locate

    /// How many have a timer set or a run under way, over every service and node
    /// (`node_workers` in `/api/health` counts them with the workers' tasks): a timer or run
    /// that outlived its `stop()` shows here.
    static let active = NIOLockedValueBox(0)

    init(locate: @escaping Locate) {
        self.locate = locate
    }

    /// Runs `body` after `delay`, then again after each wait it returns, until `stop()`. Once
    /// only: after `stop()` (even before it) it does nothing.
    func start(after delay: Duration = .zero, _ body: @escaping @Sendable () async -> Duration) {
        let eventLoop = locate().eventLoop
        update { state in
            guard !state.started, !state.stopped else { return }
            state.started = true
            state.body = body
            state.timer = eventLoop.scheduleTask(in: TimeAmount(max(.zero, delay))) { self.fire() }
        }
    }

    /// Cancels the timer, or the run under way and waits for its end. No run starts after it.
    func stop() async {
        let running = update { state -> Task<Void, Never>? in
            state.stopped = true
            state.body = nil
            state.timer?.cancel()
            state.timer = nil
            return state.run
        }
        running?.cancel()
        await running?.value
    }

    /// Whether a timer is set or a run under way (for tests: never after `stop()`).
    var isLive: Bool { state.withLockedValue { $0.isLive } }

    /// Changes the state under its lock and keeps `active` in step with whether it is live.
    @discardableResult
    private func update<T>(_ change: (inout State) -> T) -> T {
        let (result, delta) = state.withLockedValue { state -> (T, Int) in
            let before = state.isLive
            let result = change(&state)
            return (result, (state.isLive ? 1 : 0) - (before ? 1 : 0))
        }
        if delta != 0 { Self.active.withLockedValue { $0 += delta } }
        return result
    }

    private func fire() {
        let executor = locate().executor
        update { state in
            state.timer = nil
            guard !state.stopped, let body = state.body else { return }
            // Made under the lock, so `stop()` either finds it or is seen by it; the task's body
            // runs later, on its executor.
            state.run = Task(executorPreference: executor) {
                // Nobody waits on a run: its calls do not busy-wait for their replies.
                let wait = await LocalNode.$busyWaits.withValue(false) { await body() }
                self.finished(wait: wait)
            }
        }
    }

    /// A run ended: the next timer is set in the same step that lets the run go, so the work
    /// stays live between them.
    private func finished(wait: Duration) {
        let eventLoop = locate().eventLoop
        update { state in
            state.run = nil
            guard !state.stopped else { return }
            state.timer = eventLoop.scheduleTask(in: TimeAmount(max(.zero, wait))) { self.fire() }
        }
    }
}
