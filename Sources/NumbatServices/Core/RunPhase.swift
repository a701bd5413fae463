import Foundation

/// When a node's periodic work runs next (its metric collection, its alarm checks): at a point
/// of a grid that repeats every interval, shifted by the node's phase, so that the nodes of one
/// phase run at the same moments and share their event loop's timer wake-ups. A pure value; a
/// `PeriodicWorkGroup` hands it out and `PeriodicWork` sets its timer by it.
///
/// Why: on a virtual machine a sleeping thread's wake-up costs 50-140 µs of CPU, more than a
/// collection's own work; with every node on a phase of its own, each collection woke its loop
/// for itself. The Erlang hidden node that `numbat-bench --only metrics-cycle` compares against
/// calls all its nodes at once. One phase for every node would make a burst of thousands of
/// calls and replies at once on a large server, so a phase holds about `groupSize` nodes and
/// the phases spread evenly over the interval.
struct RunPhase: Equatable, Sendable {
    /// About how many nodes share a phase.
    static let groupSize = 64

    /// This node's phase, `0 ..< phases`.
    let phase: Int
    /// How many phases the interval is divided into.
    let phases: Int

    init(phase: Int, phases: Int) {
        precondition(phases > 0 && (0..<phases).contains(phase))
        self.phase = phase
        self.phases = phases
    }

    /// The phase of `node` among a group of `members` nodes: `members / groupSize` phases
    /// (rounded up), the node's picked by its id, so it keeps it while the count does.
    init(node: UUID, members: Int, groupSize: Int = Self.groupSize) {
        self.init(node: node, phases: Self.phases(members: members, groupSize: groupSize))
    }

    /// The phase of `node` when the interval is divided into `phases`.
    init(node: UUID, phases: Int) {
        self.init(phase: Int(Self.spread(node) % UInt64(phases)), phases: phases)
    }

    static func phases(members: Int, groupSize: Int = Self.groupSize) -> Int {
        max(1, (members + max(1, groupSize) - 1) / max(1, groupSize))
    }

    /// The phases a group of `members` divides its interval into when it had `current`: more
    /// as soon as a phase would hold more than `groupSize`, fewer only once the count is a
    /// quarter of a phase below the boundary. A change of the count moves most nodes to
    /// another phase (each then waits up to an interval and a quarter for its next run), so a
    /// count going back and forth across a multiple of `groupSize` (a node flapping, the 65th
    /// added and removed) must not move them every time.
    static func phases(members: Int, current: Int, groupSize: Int = Self.groupSize) -> Int {
        let needed = phases(members: members, groupSize: groupSize)
        guard needed < current else { return needed }
        let size = max(1, groupSize)
        return members <= needed * size - size / 4 ? needed : current
    }

    /// The id's 128 bits folded and mixed into 64 (a version 4 id's fixed bits fall out).
    static func spread(_ id: UUID) -> UInt64 {
        let (high, low) = withUnsafeBytes(of: id.uuid) { ($0.load(as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt64.self)) }
        var mixed = (high ^ low.byteSwapped) &* 0x9E37_79B9_7F4A_7C15
        mixed ^= mixed >> 29
        return mixed
    }

    /// Where the phase's grid starts in each interval, in nanoseconds.
    func offset(interval: UInt64) -> UInt64 {
        interval / UInt64(phases) * UInt64(phase)
    }

    /// The deadline of the next run, in nanoseconds of uptime (`NIODeadline`'s): the first
    /// point of the grid after `now` that is at least a quarter of an interval after the last
    /// run's start (`started`). A run that overran its interval skips the points it missed; a
    /// node joining the grid (its first run came when it came up) or whose phase just changed
    /// (the group grew or shrank) waits between a quarter and one and a quarter intervals: never
    /// collected twice in a moment, nor left much longer than its interval. (Half an interval,
    /// the first bound tried, left a node's second alarm check up to 22.5 s after its first
    /// at the default 15 s; a SASL started after the alarm agent is found at a check.)
    func next(now: UInt64, started: UInt64, interval: UInt64) -> UInt64 {
        guard interval > 0 else { return now }
        let sincePoint = (now % interval + interval - offset(interval: interval) % interval) % interval
        var point = now + (interval - sincePoint)
        while point < started || point - started < interval / 4 { point += interval }
        return point
    }
}
