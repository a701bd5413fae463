import NIOConcurrencyHelpers
@testable import NumbatServices
import Testing

/// `SerialInbox`, how a node's agent messages (and lifecycle events) are handled without a task
/// waiting for them: in order, one at a time, and nothing after it is stopped.
@Suite("serial inbox")
struct SerialInboxTests {
    final class Seen: Sendable {
        struct State { var handled: [Int] = []; var running = 0; var overlapped = false }
        let state = NIOLockedValueBox(State())
        let each = AsyncStream<Int>.makeStream()

        func handle(_ value: Int) async {
            state.withLockedValue { state in
                state.running += 1
                state.overlapped = state.overlapped || state.running > 1
            }
            await Task.yield()
            state.withLockedValue { state in
                state.running -= 1
                state.handled.append(value)
            }
            each.continuation.yield(value)
        }
    }

    @Test("what is posted before the start waits for it; everything is handled in order, one at a time, in bursts and after idle gaps",
          .timeLimit(.minutes(1)))
    func order() async throws {
        let inbox = SerialInbox<Int>()
        let seen = Seen()
        for value in 0..<10 { #expect(inbox.post(value)) }
        inbox.start { await seen.handle($0) }
        var iterator = seen.each.stream.makeAsyncIterator()
        for _ in 0..<10 { _ = await iterator.next() }
        // Idle now: its draining task ends once the queue is empty (what the type is for), and a
        // post starts another. Waited for, within the test's time limit.
        while inbox.isDraining { await Task.yield() }
        for burst in 1...5 {
            for value in (burst * 100)..<(burst * 100 + 20) { inbox.post(value) }
            for _ in 0..<20 { _ = await iterator.next() }
        }
        let state = seen.state.withLockedValue { $0 }
        var expected = Array(0..<10)
        for burst in 1...5 { expected += Array((burst * 100)..<(burst * 100 + 20)) }
        #expect(state.handled == expected)
        #expect(!state.overlapped)
        await inbox.stop()
        #expect(!inbox.post(1), "a stopped inbox takes nothing")
    }

    @Test("stop cancels the element being handled, waits for it and drops the rest; finish handles everything first",
          .timeLimit(.minutes(1)))
    func stopAndFinish() async throws {
        let stopped = SerialInbox<Int>()
        let started = AsyncStream<Void>.makeStream()
        let handled = NIOLockedValueBox<[Int]>([])
        let cancelled = NIOLockedValueBox(false)
        stopped.start { value in
            started.continuation.yield()
            if value == 0 {
                // Ends only by cancellation.
                let slept: Void? = try? await Task.sleep(for: .seconds(3600))
                cancelled.withLockedValue { $0 = slept == nil }
            }
            handled.withLockedValue { $0.append(value) }
        }
        for value in 0..<5 { stopped.post(value) }
        var iterator = started.stream.makeAsyncIterator()
        await iterator.next()
        await stopped.stop()
        #expect(cancelled.withLockedValue { $0 })
        #expect(handled.withLockedValue { $0 } == [0], "the waiting ones are dropped")

        let finished = SerialInbox<Int>()
        let all = NIOLockedValueBox<[Int]>([])
        finished.start { value in
            await Task.yield()
            all.withLockedValue { $0.append(value) }
        }
        for value in 0..<50 { finished.post(value) }
        await finished.finish()
        #expect(all.withLockedValue { $0 } == Array(0..<50))
        #expect(!finished.post(50))
    }
}
