import NIOCore

/// When each reply a caller waits for (an rpc) is due, for one sweeper per node instead of a
/// timer per call. Pure.
///
/// A timer per call cost two cross-thread wake-ups on every round trip (scheduling it on an
/// event loop, then cancelling it from the loop the reply came in on), as much as the round
/// trip's own send and resume. Here a call costs a dictionary insert and remove under the lock
/// it takes anyway, and a sweep every `LocalNode.replySweepInterval` fails what is overdue.
/// The earliest deadline is kept so that a sweep with nothing due is one comparison; it may
/// belong to a reply already answered, and then the next sweep past it scans once and finds
/// the true earliest: one scan per timeout period, not per call.
struct ReplyDeadlines {
    private var deadlines: [UInt32: NIODeadline] = [:]
    /// No reply is due before this.
    private(set) var earliest: NIODeadline = .distantFuture

    var count: Int { deadlines.count }

    mutating func insert(_ id: UInt32, dueAt deadline: NIODeadline) {
        deadlines[id] = deadline
        if deadline < earliest { earliest = deadline }
    }

    /// The reply came, was cancelled, or its connection went.
    mutating func remove(_ id: UInt32) {
        deadlines[id] = nil
    }

    /// The replies due at `now`, removed.
    mutating func takeExpired(now: NIODeadline) -> [UInt32] {
        guard now >= earliest else { return [] }
        var expired: [UInt32] = []
        var next = NIODeadline.distantFuture
        for (id, deadline) in deadlines {
            if deadline <= now {
                expired.append(id)
            } else if deadline < next {
                next = deadline
            }
        }
        for id in expired { deadlines[id] = nil }
        earliest = next
        return expired
    }
}
