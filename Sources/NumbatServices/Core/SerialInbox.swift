import ErlangDist
import NIOConcurrencyHelpers
import NIOCore

/// What a per-node part is handed (its agent's messages, its node's lifecycle events), handled
/// one at a time and in order, by a task that exists only while there is something to handle.
///
/// Why: a task that waits on a queue for as long as its node lives keeps its frames and its
/// task allocator's slabs (2-3 KB per node and per loop, by a heaptrack profile of 300
/// simulated nodes); a queue and a lock cost a few dozen bytes. Elements posted while one is
/// being handled wait behind it; the draining task ends when the queue is empty.
final class SerialInbox<Element: Sendable>: Sendable {
    /// Where the draining task runs: a node's connection's event loop while it is connected
    /// (per-node parts prefer it), else nil (Swift's shared pool).
    typealias Locate = @Sendable () -> EventLoopTaskExecutor?

    private struct State {
        var queue = CircularBuffer<Element>(initialCapacity: 1)
        /// Handles one element. Nil until `start`, and again after `stop` (it holds the part
        /// that holds this).
        var handle: (@Sendable (Element) async -> Void)?
        var draining: Task<Void, Never>?
        /// Neither posts nor a start are taken any more.
        var closed = false
        /// Counted in `active` (started and not yet stopped or finished).
        var counted = false
    }

    private let state = NIOLockedValueBox(State())
    private let locate: Locate
    /// Whether it counts in `SerialInboxes.active` (a service's per-node worker's does).
    private let countsAsWorker: Bool

    init(countsAsWorker: Bool = true, locate: @escaping Locate = { nil }) {
        self.countsAsWorker = countsAsWorker
        self.locate = locate
    }

    /// Handles what was posted so far, then each element posted from now on, with `handle`.
    /// Once only; nothing after `stop()` or `finish()`.
    func start(_ handle: @escaping @Sendable (Element) async -> Void) {
        let executor = locate()
        let counted = state.withLockedValue { state -> Bool in
            guard state.handle == nil, !state.closed else { return false }
            state.handle = handle
            state.counted = countsAsWorker
            drainIfNeeded(&state, executor)
            return true
        }
        if counted { SerialInboxes.active.withLockedValue { $0 += 1 } }
    }

    /// Queues `element`; false (and dropped) once the inbox is stopped or finishing.
    @discardableResult
    func post(_ element: Element) -> Bool {
        let executor = locate()
        return state.withLockedValue { state in
            guard !state.closed else { return false }
            state.queue.append(element)
            drainIfNeeded(&state, executor)
            return true
        }
    }

    /// Takes no more; cancels the element being handled and waits for its end, and drops the
    /// ones waiting.
    func stop() async {
        let (draining, counted) = close(dropping: true)
        draining?.cancel()
        await draining?.value
        // Counted until the draining task has ended, so one that outlived its stop would show.
        if counted { SerialInboxes.active.withLockedValue { $0 -= 1 } }
    }

    /// Takes no more; handles everything already posted (if started) and returns when done.
    func finish() async {
        let (draining, counted) = close(dropping: false)
        await draining?.value
        state.withLockedValue { $0.handle = nil }
        if counted { SerialInboxes.active.withLockedValue { $0 -= 1 } }
    }

    /// Whether a draining task is running now (for tests: none when idle).
    var isDraining: Bool { state.withLockedValue { $0.draining != nil } }

    /// Closes it; the draining task to wait for, and whether it was counted as active.
    private func close(dropping: Bool) -> (Task<Void, Never>?, Bool) {
        state.withLockedValue { state in
            let counted = state.counted && !state.closed
            state.closed = true
            if dropping {
                state.queue.removeAll()
                state.handle = nil
            }
            return (state.draining, counted)
        }
    }

    /// Starts the draining task if there is work, a handler and none running. Made under the
    /// lock, so a post either finds it or starts it; its body runs later, on its executor.
    private func drainIfNeeded(_ state: inout State, _ executor: EventLoopTaskExecutor?) {
        guard state.draining == nil, state.handle != nil, !state.queue.isEmpty else { return }
        state.draining = Task(executorPreference: executor) { await self.drain() }
    }

    private func drain() async {
        while true {
            let next = state.withLockedValue { state -> (Element, @Sendable (Element) async -> Void)? in
                guard let handle = state.handle, let element = state.queue.popFirst() else {
                    state.draining = nil
                    return nil
                }
                return (element, handle)
            }
            guard let (element, handle) = next else { return }
            await handle(element)
        }
    }
}

/// Every `SerialInbox`'s count (a generic type holds no stored static).
enum SerialInboxes {
    /// How many are started and not yet stopped or finished, over every service and node
    /// (`node_workers` in `/api/health` counts them with the workers' tasks).
    static let active = NIOLockedValueBox(0)
}
