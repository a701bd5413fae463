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
