import Foundation
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
/// timer is set when a run ends, for the next point of the node's `RunPhase` grid an interval
/// (which the run returns) on, so runs never overlap, a slow run delays only its own node, and
/// the nodes of one phase run at the same moments, sharing their loop's wake-ups.
final class PeriodicWork: Sendable {
    /// The node's connection's task executor while it is connected (runs prefer it), and the
    /// event loop whose timer waits between runs (the executor's, else any of the server's).
    typealias Locate = @Sendable () -> (executor: EventLoopTaskExecutor?, eventLoop: any EventLoop)

    private struct State {
        var timer: Scheduled<Void>?
        /// When the timer set last goes (or went) off.
        var deadline: NIODeadline?
        var run: Task<Void, Never>?
        /// One run; returns the interval to the next. Dropped at `stop()` (it holds the worker
        /// that holds this).
        var body: (@Sendable () async -> Duration)?
        var started = false
        var stopped = false

        /// Whether anything of it is alive: a timer set or a run under way.
        var isLive: Bool { timer != nil || run != nil }
    }

    private let state = NIOLockedValueBox(State())
    private let locate: Locate
    /// The node, whose id picks its phase in `group`.
    private let node: UUID
    private let group: PeriodicWorkGroup

    /// How many have a timer set or a run under way, over every service and node
    /// (`node_workers` in `/api/health` counts them with the workers' tasks): a timer or run
    /// that outlived its `stop()` shows here.
    static let active = NIOLockedValueBox(0)

    init(node: UUID, group: PeriodicWorkGroup, locate: @escaping Locate) {
        self.node = node
        self.group = group
        self.locate = locate
    }

    /// Runs `body` after `delay`, then again each interval it returns (at the next point of the
    /// node's phase, `RunPhase.next`), until `stop()`. Once only: after `stop()` (even before
    /// it) it does nothing.
    func start(after delay: Duration = .zero, _ body: @escaping @Sendable () async -> Duration) {
        let eventLoop = locate().eventLoop
        let joined = update { state -> Bool in
            guard !state.started, !state.stopped else { return false }
            state.started = true
            state.body = body
            let deadline = NIODeadline.now() + TimeAmount(max(.zero, delay))
            state.deadline = deadline
            state.timer = eventLoop.scheduleTask(deadline: deadline) { self.fire() }
            return true
        }
        if joined { group.join() }
    }

    /// Cancels the timer, or the run under way and waits for its end. No run starts after it.
    func stop() async {
        let (running, left) = update { state -> (Task<Void, Never>?, Bool) in
            defer { state.stopped = true }
            state.body = nil
            state.timer?.cancel()
            state.timer = nil
            return (state.run, state.started && !state.stopped)
        }
        if left { group.leave() }
        running?.cancel()
        await running?.value
    }

    /// Whether a timer is set or a run under way (for tests: never after `stop()`).
    var isLive: Bool { state.withLockedValue { $0.isLive } }

    /// When the timer set last goes (or, during a run, went) off.
    var deadline: NIODeadline? { state.withLockedValue { $0.deadline } }

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
            let started = NIODeadline.now()
            state.run = Task(executorPreference: executor) {
                // Nobody waits on a run: its calls do not busy-wait for their replies.
                let interval = await LocalNode.$busyWaits.withValue(false) { await body() }
                self.finished(started: started, interval: interval)
            }
        }
    }

    /// A run ended: the next timer is set, for the next point of the node's phase, in the same
    /// step that lets the run go, so the work stays live between them.
    private func finished(started: NIODeadline, interval: Duration) {
        let eventLoop = locate().eventLoop
        let phase = group.phase(of: node)
        update { state in
            state.run = nil
            guard !state.stopped else { return }
            let nanoseconds = UInt64(max(0, TimeAmount(max(.zero, interval)).nanoseconds))
            let deadline = NIODeadline.uptimeNanoseconds(phase.next(now: NIODeadline.now().uptimeNanoseconds,
                                                                    started: started.uptimeNanoseconds, interval: nanoseconds))
            state.deadline = deadline
            state.timer = eventLoop.scheduleTask(deadline: deadline) { self.fire() }
        }
    }
}
