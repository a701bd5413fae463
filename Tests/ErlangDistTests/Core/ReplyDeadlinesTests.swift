@testable import ErlangDist
import NIOCore
import Testing

/// The bookkeeping that replaced a timer per rpc: which replies are overdue, and that a sweep
/// with nothing due costs nothing.
@Suite("Reply deadlines")
struct ReplyDeadlinesTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test("a reply is due at its deadline, not before, and only once")
    func dueOnce() {
        var deadlines = ReplyDeadlines()
        deadlines.insert(7, dueAt: start + .seconds(1))
        #expect(deadlines.takeExpired(now: start + .milliseconds(999)).isEmpty)
        #expect(deadlines.takeExpired(now: start + .seconds(1)) == [7])
        #expect(deadlines.takeExpired(now: start + .seconds(5)).isEmpty)
        #expect(deadlines.count == 0)
    }

    @Test("answered replies never expire, and the earliest deadline moves on past them")
    func answeredReplies() {
        var deadlines = ReplyDeadlines()
        deadlines.insert(1, dueAt: start + .seconds(1))
        deadlines.insert(2, dueAt: start + .seconds(3))
        deadlines.insert(3, dueAt: start + .seconds(2))
        deadlines.remove(1)
        #expect(deadlines.earliest == start + .seconds(1))
        // The sweep past the answered reply's deadline finds nothing, and learns the next one.
        #expect(deadlines.takeExpired(now: start + .milliseconds(1500)).isEmpty)
        #expect(deadlines.earliest == start + .seconds(2))
        #expect(deadlines.takeExpired(now: start + .seconds(2)) == [3])
        #expect(deadlines.earliest == start + .seconds(3))
        deadlines.remove(2)
        #expect(deadlines.takeExpired(now: start + .seconds(10)).isEmpty)
        #expect(deadlines.earliest == .distantFuture)
    }

    @Test("every reply due at one sweep is taken at once")
    func manyDue() {
        var deadlines = ReplyDeadlines()
        for id in UInt32(0)..<100 { deadlines.insert(id, dueAt: start + .milliseconds(Int64(id))) }
        #expect(Set(deadlines.takeExpired(now: start + .milliseconds(49))) == Set(0..<50))
        #expect(deadlines.count == 50)
        #expect(deadlines.earliest == start + .milliseconds(50))
    }
}
