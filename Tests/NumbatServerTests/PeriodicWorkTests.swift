import ErlangDist
import Foundation
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
        let work = PeriodicWork(node: UUID(), group: PeriodicWorkGroup()) { (executor, executor.eventLoop) }
        let runs = Runs()
        work.start {
            runs.seen.withLockedValue { seen in
                seen.running += 1
                seen.overlapped = seen.overlapped || seen.running > 1
                if !executor.eventLoop.inEventLoop { seen.offLoop += 1 }
                if LocalNode.busyWaits { seen.busyWaiting += 1 }
            }
            // Longer than the interval it returns: a run that overlapped the next would show.
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

    @Test("the works of a group run at the points of their phase's grid, whenever they started; the group counts the works started and not stopped",
          .timeLimit(.minutes(1)))
    func runsOnTheGrid() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let works = PeriodicWorkGroup()
        let interval = TimeAmount.milliseconds(40)
        // Two works: one phase, whose grid starts at 0.
        let nodes = [UUID(), UUID()]
        let deadlines = NIOLockedValueBox<[Int: [NIODeadline]]>([:])
        let ran = AsyncStream<Void>.makeStream()
        var started: [PeriodicWork] = []
        for (index, node) in nodes.enumerated() {
            let loop = group.next()
            let work = PeriodicWork(node: node, group: works) { (nil, loop) }
            work.start(after: .milliseconds(7 * index)) { [work] in
                // The deadline that set this run off.
                let deadline = work.deadline
                deadlines.withLockedValue { $0[index, default: []].append(deadline ?? .distantPast) }
                ran.continuation.yield()
                return .milliseconds(40)
            }
            started.append(work)
        }
        #expect(works.count == 2)
        for await _ in ran.stream where deadlines.withLockedValue({ $0.values.count == 2 && $0.values.allSatisfy { $0.count >= 4 } }) { break }
        for work in started { await work.stop() }
        #expect(works.count == 0, "stopped works leave the group")
        await started[0].stop()
        #expect(works.count == 0, "a second stop leaves nothing more")
        let seen = deadlines.withLockedValue { $0 }
        for (index, points) in seen {
            // The first run came after its start delay; every later one at a grid point.
            for point in points.dropFirst() {
                #expect(point.uptimeNanoseconds % UInt64(interval.nanoseconds) == 0, "work \(index) ran off the grid: \(point)")
            }
        }
        #expect(Set(seen[0]!.dropFirst()).intersection(seen[1]!.dropFirst()).count >= 1, "the two works share their points: \(seen)")
        try await group.shutdownGracefully()
    }

    @Test("stopping cancels the run under way and waits for its end; a stopped work never starts",
          .timeLimit(.minutes(1)))
    func stopCancelsTheRun() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let work = PeriodicWork(node: UUID(), group: PeriodicWorkGroup()) { (nil, group.next()) }
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

        let never = PeriodicWork(node: UUID(), group: PeriodicWorkGroup()) { (nil, group.next()) }
        await never.stop()
        never.start { Issue.record("a stopped work ran"); return .zero }
        try await group.next().scheduleTask(in: .milliseconds(50)) {}.futureResult.get()
        try await group.shutdownGracefully()
    }
}
