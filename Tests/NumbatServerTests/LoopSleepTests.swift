import Testing

@testable import NumbatServices

/// `LoopSleep`, the sleep of the alert queue's and the metric flush's loops: woken early, kept
/// for the next sleep when woken while awake, never ended by the timer of an earlier sleep.
@Suite("loop sleep")
struct LoopSleepTests {
    @Test("a wake ends the sleep; the next sleep then runs to its limit, not ended by the woken one's timer")
    func wakeThenLimit() async {
        let sleep = LoopSleep()
        let sleeping = Task { await sleep.sleep(upTo: .seconds(3600)) }
        sleep.wake()
        #expect(await sleeping.value == .woken)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await sleep.sleep(upTo: .milliseconds(300)) == .timedOut, "no stale wake or timer ends it early")
        #expect(clock.now - start >= .milliseconds(300), "it slept to its limit")
        #expect(await sleep.sleep(upTo: .milliseconds(50)) == .timedOut)
    }

    @Test("a wake while awake is kept for the next sleep, once")
    func wakeKept() async {
        let sleep = LoopSleep()
        sleep.wake()
        sleep.wake()
        #expect(await sleep.sleep(upTo: .seconds(3600)) == .woken)
        #expect(await sleep.sleep(upTo: .milliseconds(50)) == .timedOut)
    }

    @Test("cancelling the sleeping task ends its sleep, also when cancelled before it slept")
    func cancelled() async {
        let sleep = LoopSleep()
        let sleeping = Task { await sleep.sleep(upTo: .seconds(3600)) }
        sleeping.cancel()
        #expect(await sleeping.value == .cancelled)
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await sleep.sleep(upTo: .seconds(3600))
        }
        #expect(await early.value == .cancelled)
        #expect(await sleep.sleep(upTo: .milliseconds(50)) == .timedOut, "and the next sleep is a sleep")
    }
}
