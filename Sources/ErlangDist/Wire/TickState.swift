/// Keep-alive bookkeeping for one connection, as `net_kernel` and `dist_util` do it: every tick
/// interval (net_ticktime / 4) send a tick if nothing else was sent, and declare the peer dead
/// after four intervals in a row with nothing received. A pure state machine: events in, the
/// action to take out, and a returned `.sendTick` is already accounted for, so the caller only
/// writes the tick. The connection's timer drives `intervalElapsed()`; tests call it directly.
struct TickState {
    enum Action: Equatable {
        case none
        case sendTick
        case peerDead
    }

    static let intensity = 4

    private var receivedInInterval = false
    private var sentInInterval = false
    private var silentIntervals = 0
    /// Whether we sent anything since the last tick we received; see `tickReceived()`.
    private var sentSinceLastTickReceived = false

    mutating func dataReceived() { receivedInInterval = true }

    /// A frame other than a tick went out.
    mutating func dataSent() {
        sentInInterval = true
        sentSinceLastTickReceived = true
    }

    /// A peer with a shorter net_ticktime than ours ticks more often than we do; answering a
    /// tick when we have been silent since its previous one keeps such a peer from timing us
    /// out. Two Numbat nodes stop after one answer: each one's own ticks count as sent.
    /// The answer counts as this interval's traffic (as `dist_util`'s aux tick does), so no
    /// periodic tick follows it in the same interval.
    mutating func tickReceived() -> Action {
        receivedInInterval = true
        defer { sentSinceLastTickReceived = false }
        guard !sentSinceLastTickReceived else { return .none }
        sentInInterval = true
        return .sendTick
    }

    /// Called once per tick interval.
    mutating func intervalElapsed() -> Action {
        defer {
            receivedInInterval = false
            sentInInterval = false
        }
        if receivedInInterval {
            silentIntervals = 0
        } else {
            silentIntervals += 1
            if silentIntervals >= Self.intensity { return .peerDead }
        }
        guard !sentInInterval else { return .none }
        // The periodic tick is not traffic of the next interval (`dist_util` adds it to the
        // write count it compares with), so an idle link is ticked every interval; it does
        // spare the peer's next tick an answer.
        sentSinceLastTickReceived = true
        return .sendTick
    }
}
