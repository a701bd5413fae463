@testable import ErlangDist
import ErlangTerm
import Testing

/// Which calls keep a CPU awake for their reply: the pure part of the busy wait, learned from
/// reply times (`ReplySpinner` is its thread, driven by `LocalNode`).
@Suite("Busy wait policy")
struct BusyWaitPolicyTests {
    static let budget: UInt64 = 200_000
    let quick = BusyWaitPolicy.Kind(module: "erlang", function: "node")
    let slow = BusyWaitPolicy.Kind(module: "numbat_metrics_agent", function: "collect")

    /// Sends a lone call of `kind` at `now` and answers it `after` nanoseconds; its ticket.
    @discardableResult
    static func call(_ policy: inout BusyWaitPolicy, _ kind: BusyWaitPolicy.Kind, at now: UInt64, repliedAfter after: UInt64) -> BusyWaitPolicy.Ticket {
        let ticket = policy.callSent(kind, at: now, othersInFlight: 0)
        policy.replied(ticket, at: now + after)
        return ticket
    }

    @Test("a kind spins until its replies show they come later than the budget")
    func learnsPerKind() {
        var policy = BusyWaitPolicy(budget: Self.budget)
        // Never answered: it spins once, to learn.
        #expect(Self.call(&policy, quick, at: 1_000, repliedAfter: 30_000).spins)
        #expect(Self.call(&policy, slow, at: 2_000, repliedAfter: 3_000_000).spins)
        #expect(policy.average(of: quick) == 30_000)
        // The slow kind's first reply took 3 ms (clamped at four budgets): it stops spinning,
        // the quick one goes on.
        #expect(policy.average(of: slow) == 4 * Self.budget)
        #expect(!Self.call(&policy, slow, at: 10_000_000, repliedAfter: 2_000_000).spins)
        #expect(Self.call(&policy, quick, at: 20_000_000, repliedAfter: 40_000).spins)
        #expect(policy.average(of: quick) == (3 * 30_000 + 40_000) / 4)
        #expect(!policy.wouldSpin(slow))
        #expect(policy.wouldSpin(quick))
        // A reply's time is learned whether or not its call spun: a slow kind that turns quick
        // spins again.
        for step in 0..<10 { Self.call(&policy, slow, at: 30_000_000 + UInt64(step) * 1_000_000, repliedAfter: 50_000) }
        #expect(policy.wouldSpin(slow))
    }

    @Test("one slow reply stops a quick kind's spinning for a call or two, not for dozens")
    func outlier() {
        var policy = BusyWaitPolicy(budget: Self.budget)
        for step in 0..<8 { Self.call(&policy, quick, at: UInt64(step) * 1_000_000, repliedAfter: 30_000) }
        // A 50 ms reply (a garbage collection on the node) counts as four budgets.
        Self.call(&policy, quick, at: 10_000_000, repliedAfter: 50_000_000)
        #expect(!policy.wouldSpin(quick))
        Self.call(&policy, quick, at: 70_000_000, repliedAfter: 30_000)
        Self.call(&policy, quick, at: 71_000_000, repliedAfter: 30_000)
        #expect(policy.wouldSpin(quick))
    }

    @Test("only a lone call spins, a quiet period after the last call that had company")
    func loneCallsOnly() {
        var policy = BusyWaitPolicy(budget: Self.budget)
        let start: UInt64 = 10_000_000
        #expect(policy.callSent(quick, at: start, othersInFlight: 0).spins)
        #expect(!policy.callSent(quick, at: start, othersInFlight: 1).spins)
        #expect(!policy.callSent(quick, at: start + 1_000, othersInFlight: 15).spins)
        // Alone again, but a moment after many callers' replies came in one read: no spin yet.
        #expect(!policy.callSent(quick, at: start + 2_000, othersInFlight: 0).spins)
        #expect(!policy.callSent(quick, at: start + 1_000 + BusyWaitPolicy.quietPeriod - 1, othersInFlight: 0).spins)
        #expect(policy.callSent(quick, at: start + 1_000 + BusyWaitPolicy.quietPeriod, othersInFlight: 0).spins)
    }

    @Test("a call nobody waits on never spins, and its reply still teaches the kind's time")
    func callerNotWaiting() {
        var policy = BusyWaitPolicy(budget: Self.budget)
        let ticket = policy.callSent(slow, at: 1_000, othersInFlight: 0, callerWaits: false)
        #expect(!ticket.spins)
        policy.replied(ticket, at: 1_000 + 3_000_000)
        #expect(!policy.wouldSpin(slow))
        #expect(policy.callSent(quick, at: 5_000_000, othersInFlight: 0).spins)
    }

    @Test("a budget of zero never spins and learns nothing")
    func off() {
        var policy = BusyWaitPolicy(budget: 0)
        #expect(!Self.call(&policy, quick, at: 0, repliedAfter: 10_000).spins)
        #expect(policy.average(of: quick) == nil)
        #expect(!policy.wouldSpin(quick))
        #expect(policy.kindCount == 0)
    }

    @Test("kinds past the table's bound share one slot: a caller inventing functions cannot grow it")
    func bounded() {
        var policy = BusyWaitPolicy(budget: Self.budget)
        for index in 0..<(BusyWaitPolicy.maxKinds + 100) {
            Self.call(&policy, .init(module: "m", function: Atom("f\(index)")), at: UInt64(index) * 1_000_000, repliedAfter: 10_000)
        }
        #expect(policy.kindCount == BusyWaitPolicy.maxKinds)
        // The shared slot learns like any other: a slow reply there stops the late kinds' spins.
        let late = BusyWaitPolicy.Kind(module: "m", function: "late")
        Self.call(&policy, late, at: 1_000_000_000, repliedAfter: 10_000_000)
        #expect(!policy.callSent(BusyWaitPolicy.Kind(module: "m", function: "later"), at: 2_000_000_000, othersInFlight: 0).spins)
        #expect(policy.wouldSpin(.init(module: "m", function: "f0")))
    }

    @Test("a reply stamped before its send (a clock read on another thread) counts as instant")
    func clockSkew() {
        var policy = BusyWaitPolicy(budget: Self.budget)
        let ticket = policy.callSent(quick, at: 5_000, othersInFlight: 0)
        policy.replied(ticket, at: 4_000)
        #expect(policy.average(of: quick) == 0)
    }
}
