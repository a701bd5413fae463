import Foundation
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// `RunPhase`, when a node's periodic work runs next: pure, no clock.
@Suite("run phases")
struct RunPhaseTests {
    static let second: UInt64 = 1_000_000_000

    /// Version 4 ids from a seeded generator, the same every run.
    static func ids(_ count: Int, seed: UInt64 = 16) -> [UUID] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            var bytes = random.bytes(16)
            bytes[6] = bytes[6] & 0x0F | 0x40
            bytes[8] = bytes[8] & 0x3F | 0x80
            return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        }
    }

    @Test("nodes of one phase that ended their runs at different moments run next at the same point, an interval after their start")
    func onePhaseSharesItsPoints() {
        let phase = RunPhase(phase: 0, phases: 1)
        let interval = 10 * Self.second
        // Both started at the grid point 1,000 s; one ended after 3 ms, one after 4.2 s.
        let started = 1_000 * Self.second
        let quick = phase.next(now: started + 3_000_000, started: started, interval: interval)
        let slow = phase.next(now: started + 4_200_000_000, started: started, interval: interval)
        #expect(quick == started + interval)
        #expect(slow == quick)
        // A node that started off the grid (its first run, at once when it came up) joins it:
        // the first point at least a quarter of an interval after its start.
        let late = phase.next(now: started + 2_000_000_000, started: started + 1_900_000_000, interval: interval)
        #expect(late == started + interval)
        let later = phase.next(now: started + 7_000_000_000, started: started + 6_900_000_000, interval: interval)
        #expect(later == started + interval, "3.1 s after its start is not too soon")
        let veryLate = phase.next(now: started + 8_000_000_000, started: started + 7_900_000_000, interval: interval)
        #expect(veryLate == started + 2 * interval, "2.1 s after its start is too soon: the point after, 12.1 s on")
    }

    @Test("the phases divide the interval evenly; each deadline is a point of its phase's grid")
    func phasesDivideTheInterval() {
        let interval = 60 * Self.second
        let phases = 4
        for index in 0..<phases {
            let phase = RunPhase(phase: index, phases: phases)
            #expect(phase.offset(interval: interval) == UInt64(index) * 15 * Self.second)
            for now in stride(from: 3_600 * Self.second, to: 3_900 * Self.second, by: 7_777_777_777) {
                let started = now - 1_000_000
                let next = phase.next(now: now, started: started, interval: interval)
                #expect(next > now && next - started >= interval / 4 && next - started <= interval + interval / 4)
                #expect((next - phase.offset(interval: interval)) % interval == 0, "off the grid: \(next)")
            }
        }
    }

    @Test("a run that overran its interval skips the points it missed")
    func overrunSkips() {
        let phase = RunPhase(phase: 0, phases: 1)
        let interval = Self.second
        let started = 500 * Self.second
        // Ended 3.4 s after its start: the points at 501, 502 and 503 s are gone.
        #expect(phase.next(now: started + 3_400_000_000, started: started, interval: interval) == 504 * Self.second)
    }

    @Test("about 64 nodes a phase; a node keeps its phase while the count does, and the phases are evenly used")
    func phasesForAGroup() {
        #expect(RunPhase.phases(members: 0) == 1)
        #expect(RunPhase.phases(members: 20) == 1)
        #expect(RunPhase.phases(members: 64) == 1)
        #expect(RunPhase.phases(members: 65) == 2)
        #expect(RunPhase.phases(members: 10_000) == 157)
        let ids = Self.ids(6_400)
        let phases = ids.map { RunPhase(node: $0, members: ids.count) }
        #expect(phases.allSatisfy { $0.phases == 100 })
        #expect(ids.map { RunPhase(node: $0, members: ids.count) } == phases, "the same id, the same phase")
        let sizes = Dictionary(grouping: phases, by: \.phase).mapValues(\.count)
        #expect(sizes.count == 100, "every phase used")
        #expect(sizes.values.max()! <= 128 && sizes.values.min()! >= 24, "64 a phase on average: \(sizes.values.sorted())")
    }

    @Test("phases grow as soon as one would pass 64 nodes and shrink only a quarter phase below the boundary; a count flapping across it moves nobody")
    func phasesHysteresis() {
        #expect(RunPhase.phases(members: 65, current: 1) == 2)
        #expect(RunPhase.phases(members: 129, current: 1) == 3, "grown to what is needed at once")
        #expect(RunPhase.phases(members: 64, current: 2) == 2 && RunPhase.phases(members: 49, current: 2) == 2)
        #expect(RunPhase.phases(members: 48, current: 2) == 1)
        #expect(RunPhase.phases(members: 0, current: 3) == 1)
        #expect(RunPhase.phases(members: 177, current: 4) == 4 && RunPhase.phases(members: 176, current: 4) == 3)
        #expect(RunPhase.phases(members: 112, current: 4) == 2, "to what is needed, once past the margin")

        let group = PeriodicWorkGroup()
        for _ in 0..<65 { group.join() }
        #expect(group.phases == 2)
        let node = UUID()
        let before = group.phase(of: node)
        for _ in 0..<10 {
            group.leave()
            #expect(group.phase(of: node) == before, "the 65th leaving keeps every node's phase")
            group.join()
        }
        for _ in 0..<17 { group.leave() }
        #expect(group.count == 48 && group.phases == 1 && group.phase(of: node) == RunPhase(phase: 0, phases: 1))
    }

    @Test("a node whose phase changed waits between a quarter and one and a quarter intervals after its last start")
    func movedPhaseWaits() {
        let interval = 10 * Self.second
        // Its last run started at 1,000 s on phase 0 of 1; the group grew to 2 phases and its
        // phase is now 1 (offset 5 s): the point at 1,005 s is half an interval on, and taken.
        let moved = RunPhase(phase: 1, phases: 2)
        let started = 1_000 * Self.second
        #expect(moved.next(now: started + 1_000_000, started: started, interval: interval) == 1_005 * Self.second)
        // Offset 2.5 s of 4 phases: 1,002.5 s is a quarter interval on, and taken.
        let quarter = RunPhase(phase: 1, phases: 4)
        #expect(quarter.next(now: started + 1_000_000, started: started, interval: interval) == 1_002_500_000_000)
        // Offset 1.25 s of 8 phases: 1,001.25 s is too soon after 1,000 s; 1,011.25 s is next.
        let tooSoon = RunPhase(phase: 1, phases: 8)
        #expect(tooSoon.next(now: started + 1_000_000, started: started, interval: interval) == 1_011_250_000_000)
    }

    @Test("an interval of zero runs again at once; small uptimes do not underflow")
    func edges() {
        let phase = RunPhase(phase: 3, phases: 4)
        #expect(phase.next(now: 42, started: 40, interval: 0) == 42)
        let next = phase.next(now: 5, started: 0, interval: 100)
        #expect(next == 75)
    }
}
