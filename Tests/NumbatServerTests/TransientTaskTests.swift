import NumbatCore
import Testing

/// `inTransientTask`: the per-node loops run each cycle's work in it, so it must behave as a
/// plain call would: the result, the error, and cancellation from the caller.
@Suite("transient child tasks")
struct TransientTaskTests {
    struct Failed: Error, Equatable {}

    @Test("returns the child's result and rethrows its error")
    func resultAndError() async throws {
        #expect(try await inTransientTask { 41 + 1 } == 42)
        #expect(await inTransientTask { "plain" } == "plain")
        await #expect(throws: Failed.self) { try await inTransientTask { () async throws -> Int in throw Failed() } }
    }

    @Test("cancelling the caller cancels the work inside")
    func cancellation() async throws {
        let started = AsyncStream<Void>.makeStream()
        let caller = Task {
            try await inTransientTask { () async throws -> Bool in
                started.continuation.yield()
                // Ends only by cancellation, which the sleep throws as CancellationError.
                try await Task.sleep(for: .seconds(3600))
                return false
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        await iterator.next()
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
    }
}
