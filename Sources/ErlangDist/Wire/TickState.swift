/// Keep-alive bookkeeping for one connection, as `net_kernel` does it: every tick interval
/// (net_ticktime / 4) send a tick if nothing else was sent, and declare the peer dead after
/// four intervals in a row with nothing received. Pure; the connection's timer drives it.
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

    mutating func dataSent() {
        sentInInterval = true
        sentSinceLastTickReceived = true
    }

    /// A tick sent in answer to `tickReceived()`; it must not suppress the next answer.
    mutating func tickAnswerSent() { sentInInterval = true }

    /// A peer with a shorter net_ticktime than ours ticks more often than we do; answering a
    /// tick when we have been silent since its previous one keeps such a peer from timing us
    /// out. Two Numbat nodes stop after one answer, as the answer counts as sent.
    mutating func tickReceived() -> Action {
        receivedInInterval = true
        defer { sentSinceLastTickReceived = false }
        return sentSinceLastTickReceived ? .none : .sendTick
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
        return sentInInterval ? .none : .sendTick
    }
}
