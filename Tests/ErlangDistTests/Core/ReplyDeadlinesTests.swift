@testable import ErlangDist
import NIOCore
import Testing

/// The bookkeeping that replaced a timer per rpc and then a sweep every 100 ms: which replies
/// are overdue, and when the node's one timer must go off.
@Suite("Reply deadlines")
struct ReplyDeadlinesTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test("a reply is due at its deadline, not before, and only once")
    func dueOnce() throws {
        var deadlines = ReplyDeadlines()
        let timer = deadlines.insert(7, dueAt: start + .seconds(1))
        #expect(timer == start + .seconds(1))
        // Early (a timer goes off at or after its time; the pure part does not rely on it).
        let earlyFired = deadlines.timerFired(setFor: start + .seconds(1), now: start + .milliseconds(999))
        let early = try #require(earlyFired)
        #expect(early.expired.isEmpty)
        #expect(early.next == start + .seconds(1))
        let dueFired = deadlines.timerFired(setFor: start + .seconds(1), now: start + .seconds(1))
        let due = try #require(dueFired)
        #expect(due.expired == [7])
        #expect(due.next == nil)
        #expect(deadlines.timer == nil)
        #expect(deadlines.count == 0)
    }

    @Test("the timer is set by the first call and by a call due sooner, not by later ones")
    func setOnlyWhenSooner() {
        var deadlines = ReplyDeadlines()
        let first = deadlines.insert(1, dueAt: start + .seconds(5))
        #expect(first == start + .seconds(5))
        // Calls of the same timeout come in deadline order: none sets the timer again.
        let later = deadlines.insert(2, dueAt: start + .seconds(6))
        #expect(later == nil)
        let sameTimeout = deadlines.insert(3, dueAt: start + .seconds(5))
        #expect(sameTimeout == nil)
        let sooner = deadlines.insert(4, dueAt: start + .seconds(2))
        #expect(sooner == start + .seconds(2))
        #expect(deadlines.timer == start + .seconds(2))
    }

    @Test("a timer replaced by one for a sooner call changes nothing when it goes off")
    func replacedTimer() throws {
        var deadlines = ReplyDeadlines()
        _ = deadlines.insert(1, dueAt: start + .seconds(5))
        _ = deadlines.insert(2, dueAt: start + .seconds(1))
        let replaced = deadlines.timerFired(setFor: start + .seconds(5), now: start + .seconds(5))
        #expect(replaced == nil)
        #expect(deadlines.count == 2)
        let firedFired = deadlines.timerFired(setFor: start + .seconds(1), now: start + .seconds(1))
        let fired = try #require(firedFired)
        #expect(fired.expired == [2])
        #expect(fired.next == start + .seconds(5))
    }

    @Test("answered replies never expire: the timer moves on past them, and stops when none waits")
    func answeredReplies() throws {
        var deadlines = ReplyDeadlines()
        _ = deadlines.insert(1, dueAt: start + .seconds(1))
        _ = deadlines.insert(2, dueAt: start + .seconds(3))
        _ = deadlines.insert(3, dueAt: start + .seconds(2))
        deadlines.remove(1)
        // The timer set for the answered reply finds nothing due, and goes to the next one.
        let firstFired = deadlines.timerFired(setFor: start + .seconds(1), now: start + .seconds(1))
        let first = try #require(firstFired)
        #expect(first.expired.isEmpty)
        #expect(first.next == start + .seconds(2))
        let secondFired = deadlines.timerFired(setFor: start + .seconds(2), now: start + .seconds(2))
        let second = try #require(secondFired)
        #expect(second.expired == [3])
        #expect(second.next == start + .seconds(3))
        deadlines.remove(2)
        let lastFired = deadlines.timerFired(setFor: start + .seconds(3), now: start + .seconds(3))
        let last = try #require(lastFired)
        #expect(last.expired.isEmpty)
        #expect(last.next == nil)
        // No timer while nothing waits; the next call sets it again.
        #expect(deadlines.timer == nil)
        let again = deadlines.insert(4, dueAt: start + .seconds(9))
        #expect(again == start + .seconds(9))
    }

    @Test("every reply due when the timer goes off is taken at once")
    func manyDue() throws {
        var deadlines = ReplyDeadlines()
        for id in UInt32(0)..<100 { _ = deadlines.insert(id, dueAt: start + .milliseconds(Int64(id))) }
        let firedFired = deadlines.timerFired(setFor: start, now: start + .milliseconds(49))
        let fired = try #require(firedFired)
        #expect(Set(fired.expired) == Set(0..<50))
        #expect(deadlines.count == 50)
        #expect(fired.next == start + .milliseconds(50))
    }

    @Test("no timer after it is stopped, until a call sets it")
    func stopped() {
        var deadlines = ReplyDeadlines()
        _ = deadlines.insert(1, dueAt: start + .seconds(1))
        deadlines.stopTimer()
        #expect(deadlines.timer == nil)
        let afterStop = deadlines.timerFired(setFor: start + .seconds(1), now: start + .seconds(1))
        #expect(afterStop == nil)
    }
}
