@testable import ErlangDist
import Testing

/// Tick bookkeeping driven interval by interval: the interval is the only clock `TickState`
/// knows, so each call to `intervalElapsed()` is one `tickTime / 4` passing. No sleeping.
@Suite("tick state: ticks on idle links, dead peers after four silent intervals")
struct TickStateTests {
    /// One interval; a `.sendTick` is already accounted for, the caller only writes it.
    static func interval(_ ticks: inout TickState) -> TickState.Action { ticks.intervalElapsed() }

    @Test("the intensity is net_kernel's: four intervals per tick time")
    func intensity() {
        #expect(TickState.intensity == 4)
    }

    @Test("an idle link gets a tick every interval, as dist_util ticks one, while the peer ticks back")
    func idleLinkTicks() {
        var ticks = TickState()
        for _ in 0..<20 {
            #expect(Self.interval(&ticks) == .sendTick)
            // The peer ticks too; its ticks need no answer, as ours count as sent.
            #expect(ticks.tickReceived() == .none)
        }
    }

    @Test("no tick is sent in an interval in which something else was sent")
    func dataSuppressesTick() {
        var ticks = TickState()
        ticks.dataReceived()
        ticks.dataSent()
        #expect(Self.interval(&ticks) == .none)
        ticks.dataReceived()
        #expect(Self.interval(&ticks) == .sendTick)
    }

    @Test("a silent peer is dead at the fourth silent interval, not before")
    func silentPeerDies() {
        var ticks = TickState()
        #expect(Self.interval(&ticks) == .sendTick)
        #expect(Self.interval(&ticks) == .sendTick)
        #expect(Self.interval(&ticks) == .sendTick)
        #expect(Self.interval(&ticks) == .peerDead)
    }

    @Test("anything received resets the count of silent intervals")
    func receivingResets() {
        var ticks = TickState()
        for _ in 0..<3 { #expect(Self.interval(&ticks) != .peerDead) }
        ticks.dataReceived()
        #expect(Self.interval(&ticks) == .sendTick)
        for _ in 0..<3 { #expect(Self.interval(&ticks) != .peerDead) }
        _ = ticks.tickReceived()
        #expect(Self.interval(&ticks) != .peerDead)
        for _ in 0..<3 { #expect(Self.interval(&ticks) != .peerDead) }
        #expect(Self.interval(&ticks) == .peerDead)
    }

    @Test("sending alone does not keep a silent peer alive")
    func sendingDoesNotCount() {
        var ticks = TickState()
        for _ in 0..<3 {
            ticks.dataSent()
            #expect(Self.interval(&ticks) == .none)
        }
        ticks.dataSent()
        #expect(Self.interval(&ticks) == .peerDead)
    }

    @Test("a tick is answered when we have been silent since the peer's previous tick")
    func tickAnswers() {
        var ticks = TickState()
        // Nothing sent yet: answer.
        #expect(ticks.tickReceived() == .sendTick)
        // An answer does not spare the next answer: a faster-ticking peer gets one per tick.
        #expect(ticks.tickReceived() == .sendTick)
        // Traffic of our own since the last tick: no answer needed...
        ticks.dataSent()
        #expect(ticks.tickReceived() == .none)
        // ...but only once.
        #expect(ticks.tickReceived() == .sendTick)
        // That answer was this interval's traffic; in the next, a periodic tick of ours goes
        // out, and it spares the next answer too.
        #expect(Self.interval(&ticks) == .none)
        #expect(Self.interval(&ticks) == .sendTick)
        #expect(ticks.tickReceived() == .none)
    }

    @Test("an answered tick counts as sent in its interval, like dist_util's aux tick")
    func answerCountsInInterval() {
        var ticks = TickState()
        #expect(ticks.tickReceived() == .sendTick)
        #expect(Self.interval(&ticks) == .none)
        // The next interval is idle again.
        ticks.dataReceived()
        #expect(Self.interval(&ticks) == .sendTick)
    }
}
