import ErlangDist
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import NumbatServices
import Testing

/// `PeriodicWork`, how a node's metric collections and alarm checks repeat: a timer between
/// runs, each run a task on the node's event loop, never two at once, and nothing after `stop()`.
@Suite("periodic work")
struct PeriodicWorkTests {
    /// What the runs saw: how many ran, how many at once at most, whether each ran on the loop.
    final class Runs: Sendable {
        struct Seen { var count = 0; var running = 0; var overlapped = false; var offLoop = 0; var busyWaiting = 0 }
        let seen = NIOLockedValueBox(Seen())
        let ran = AsyncStream<Int>.makeStream()
    }

    @Test("runs again after each wait it returns, one run at a time, on the node's event loop, without busy waits",
          .timeLimit(.minutes(1)))
    func repeats() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let executor = EventLoopTaskExecutor(group.next())
        let work = PeriodicWork { (executor, executor.eventLoop) }
        let runs = Runs()
        work.start {
            runs.seen.withLockedValue { seen in
                seen.running += 1
                seen.overlapped = seen.overlapped || seen.running > 1
                if !executor.eventLoop.inEventLoop { seen.offLoop += 1 }
                if LocalNode.busyWaits { seen.busyWaiting += 1 }
            }
            // Longer than the wait it returns: a run that overlapped the next would show.
            try? await Task.sleep(for: .milliseconds(20))
            let done = runs.seen.withLockedValue { seen in
                seen.running -= 1
                seen.count += 1
                return seen.count
            }
            runs.ran.continuation.yield(done)
            return .milliseconds(5)
        }
        for await count in runs.ran.stream where count >= 5 { break }
        await work.stop()
        let stopped = runs.seen.withLockedValue { $0 }
        #expect(stopped.count >= 5)
        #expect(!stopped.overlapped)
        #expect(stopped.offLoop == 0, "runs off the node's event loop: \(stopped.offLoop)")
        #expect(stopped.busyWaiting == 0, "nobody waits on a run: its calls must not spin")
        #expect(stopped.running == 0)
        #expect(!work.isLive, "no timer set and no run under way after stop")
        // Nothing runs after stop: a timer of the same loop set well after the next run would have
        // come finds the count unchanged.
        try await executor.eventLoop.scheduleTask(in: .milliseconds(100)) {}.futureResult.get()
        #expect(runs.seen.withLockedValue { $0.count } == stopped.count)
        try await group.shutdownGracefully()
    }

    @Test("stopping cancels the run under way and waits for its end; a stopped work never starts",
          .timeLimit(.minutes(1)))
    func stopCancelsTheRun() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let work = PeriodicWork { (nil, group.next()) }
        let started = AsyncStream<Void>.makeStream()
        let ended = NIOLockedValueBox<Bool?>(nil)
        /// Held by the body only: the body is let go at stop.
        final class Token: Sendable {}
        weak var weakToken: Token?
        do {
            let token = Token()
            weakToken = token
            work.start { [token] in
                _ = token
                started.continuation.yield()
                // Ends only by cancellation.
                let slept: Void? = try? await Task.sleep(for: .seconds(3600))
                ended.withLockedValue { $0 = slept == nil }
                return .seconds(3600)
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        await iterator.next()
        await work.stop()
        #expect(ended.withLockedValue { $0 } == true, "the run ended by its cancellation before stop() returned")
        #expect(weakToken == nil, "the body is let go at stop")
        #expect(!work.isLive)

        let never = PeriodicWork { (nil, group.next()) }
        await never.stop()
        never.start { Issue.record("a stopped work ran"); return .zero }
        try await group.next().scheduleTask(in: .milliseconds(50)) {}.futureResult.get()
        try await group.shutdownGracefully()
    }
}
