import ErlangDist
import NIOCore
import NIOPosix
import Testing

/// `EventLoopTaskExecutor.sleep(for:)`, the wait of the per-node loops between their cycles: on
/// the loop's own timer, resumed on the loop, and ended at once by cancellation.
@Suite("event loop task executor")
struct EventLoopTaskExecutorTests {
    @Test("sleep waits at least its duration and resumes a task that prefers the loop on the loop")
    func sleepsOnTheLoop() async throws {
        try await withExecutor { executor in
            let (elapsed, onLoop) = try await Task(executorPreference: executor) { () async throws -> (Duration, Bool) in
                let start = ContinuousClock.now
                try await executor.sleep(for: .milliseconds(50))
                return (ContinuousClock.now - start, executor.eventLoop.inEventLoop)
            }.value
            #expect(elapsed >= .milliseconds(50), "\(elapsed)")
            #expect(onLoop)
            // Zero and negative durations return without waiting for a timer that never comes.
            try await executor.sleep(for: .zero)
            try await executor.sleep(for: .milliseconds(-5))
        }
    }

    @Test("a sleeping task that is cancelled throws CancellationError without waiting out its hour",
          .timeLimit(.minutes(1)))
    func cancellation() async throws {
        try await withExecutor { executor in
            let sleeper = Task(executorPreference: executor) { try await executor.sleep(for: .seconds(3600)) }
            sleeper.cancel()
            let result = await sleeper.result
            #expect(throws: CancellationError.self) { try result.get() }
            // Cancelled before it starts sleeping: throws as well.
            let early = Task(executorPreference: executor) { () async throws in
                withUnsafeCurrentTask { $0?.cancel() }
                try await executor.sleep(for: .seconds(3600))
            }
            await #expect(throws: CancellationError.self) { try await early.value }
        }
    }

    /// Runs `body` with an executor over an event loop of its own, shut down after.
    private func withExecutor(_ body: (EventLoopTaskExecutor) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await body(EventLoopTaskExecutor(group.next()))
        } catch {
            try await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}
