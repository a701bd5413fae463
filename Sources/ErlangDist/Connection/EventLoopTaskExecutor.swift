import NIOCore

/// A connection's event loop as a Swift task executor, so that work for one peer can run on the
/// thread that reads and writes its socket.
///
/// A task on Swift's shared pool pays two cross-thread wake-ups per round trip: its send hops to
/// the event loop, and the reply's resumption hops back to the pool. A task that prefers this
/// executor (`Task(executorPreference:)`, `withTaskExecutorPreference`) sends from the loop and
/// is resumed on it, in the same loop turn that read the reply: no thread is woken. The price is
/// that such work must never block: it shares the thread with the connection's I/O (and with the
/// other connections of that loop).
public final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension EventLoopTaskExecutor {
    /// Suspends for `duration` on this event loop's own timer, and throws `CancellationError` as
    /// soon as the task is cancelled.
    ///
    /// `Task.sleep` goes through Swift's global executor: its timer thread wakes when the time
    /// comes, hands the task to the shared pool, and a pool thread hands it to the executor the
    /// task prefers, waking this loop. A per-node loop that prefers this executor and sleeps
    /// here between its cycles wakes no thread but the loop, whose next `epoll_wait` already
    /// ends at its earliest timer.
    public func sleep(for duration: Duration) async throws {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds >= Int64.max / 1_000_000_000
            ? Int64.max : max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
        let scheduled = eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {}
        try await withTaskCancellationHandler {
            do {
                try await scheduled.futureResult.get()
            } catch {
                throw CancellationError()
            }
        } onCancel: {
            scheduled.cancel()
        }
    }
}
