import NIOCore

/// When each reply a caller waits for (an rpc) is due, and when the node's one reply timer
/// must go off to fail the overdue ones. Pure: it answers when to set the timer, and
/// `LocalNode` sets it.
///
/// A timer per call cost two cross-thread wake-ups on every round trip (scheduling it on an
/// event loop, then cancelling it from the loop the reply came in on), as much as the round
/// trip's own send and resume. Here a call costs a dictionary insert and remove under the lock
/// it takes anyway. A sweep every 100 ms (until 2026-12-07) woke an event loop ten times a
/// second whatever the calls: on this project's virtual machine a sleeping thread's wake-up
/// costs 50-140 µs of CPU, about a third of an idle server's CPU with 20 nodes
/// (docs/benchmarks.md, issue #16 sixteenth pass). So the timer is set for the earliest
/// deadline only: a call sets it when none is set or when its own reply is due sooner, and when
/// it goes off it fails what is due and is set again for the earliest reply still waiting, or
/// not at all. The deadline it was set for may belong to a reply answered since; it then finds
/// nothing due and moves on to the true earliest: one wake-up per timeout period while calls
/// keep coming, none while none waits.
struct ReplyDeadlines {
    private var deadlines: [UInt32: NIODeadline] = [:]
    /// When the timer is set to go off; nil while none is set.
    private(set) var timer: NIODeadline?

    var count: Int { deadlines.count }

    /// Records when reply `id` is due; answers the time to set the timer for when it must be
    /// set (none is set, or it is set for later than this reply's deadline), else nil.
    mutating func insert(_ id: UInt32, dueAt deadline: NIODeadline) -> NIODeadline? {
        deadlines[id] = deadline
        if let timer, timer <= deadline { return nil }
        timer = deadline
        return deadline
    }

    /// The reply came, was cancelled, or its connection went.
    mutating func remove(_ id: UInt32) {
        deadlines[id] = nil
    }

    /// The timer set for `setFor` went off at `now`: the replies due, removed, and the time to
    /// set the timer for next (nil when no reply waits; the next call sets it). Nil for a timer
    /// that is no longer the one wanted (set for later, then replaced for an earlier call):
    /// nothing changes.
    mutating func timerFired(setFor: NIODeadline, now: NIODeadline) -> (expired: [UInt32], next: NIODeadline?)? {
        guard timer == setFor else { return nil }
        var expired: [UInt32] = []
        var next: NIODeadline?
        for (id, deadline) in deadlines {
            if deadline <= now {
                expired.append(id)
            } else if next.map({ deadline < $0 }) ?? true {
                next = deadline
            }
        }
        for id in expired { deadlines[id] = nil }
        timer = next
        return (expired, next)
    }

    /// No timer any more (the node shut down).
    mutating func stopTimer() {
        timer = nil
    }
}
