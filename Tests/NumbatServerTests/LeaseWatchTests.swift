import Foundation
@testable import NumbatServices
import Testing

/// When a server must assume its leases are gone (`LeaseWatch`), decided without a database.
@Suite("lease watch")
struct LeaseWatchTests {
    let start = ContinuousClock.now
    let a = UUID(), b = UUID(), c = UUID()

    @Test("never renewed, leases may have expired; renewed, they last the lease less the margin from the sending")
    func expiry() {
        var watch = LeaseWatch()
        #expect(watch.mayHaveExpired(at: start, leaseSeconds: 6, margin: .seconds(1)))
        watch.renewed([a, b], sentAt: start)
        #expect(watch.held == [a, b])
        #expect(!watch.mayHaveExpired(at: start + .seconds(5), leaseSeconds: 6, margin: .seconds(1)))
        #expect(watch.mayHaveExpired(at: start + .milliseconds(5_001), leaseSeconds: 6, margin: .seconds(1)))
        watch.renewed([a], sentAt: start + .seconds(4))
        #expect(watch.held == [a] && !watch.mayHaveExpired(at: start + .seconds(8), leaseSeconds: 6, margin: .seconds(1)))
    }

    @Test("leases taken with none held count from when they were asked for; taken beside held ones, the older renewal still counts")
    func acquisitions() {
        var watch = LeaseWatch()
        watch.renewed([], sentAt: start)
        // A takeover asked for at 3 s that took long: counted from 3 s, not from the renewal at 0.
        watch.acquired([a, b], sentAt: start + .seconds(3))
        #expect(!watch.mayHaveExpired(at: start + .seconds(7), leaseSeconds: 6, margin: .seconds(1)))
        // More taken at 6 s beside held ones: the held ones' renewal (3 s) still bounds them all.
        watch.acquired([c], sentAt: start + .seconds(6))
        #expect(watch.held == [a, b, c])
        #expect(watch.mayHaveExpired(at: start + .seconds(8.5), leaseSeconds: 6, margin: .seconds(1)))
        // Nothing taken: nothing changes.
        let before = watch
        watch.acquired([], sentAt: start + .seconds(20))
        #expect(watch == before)
    }

    @Test("released and let-go leases are no longer held")
    func lettingGo() {
        var watch = LeaseWatch()
        watch.renewed([a, b, c], sentAt: start)
        watch.released([b])
        #expect(watch.held == [a, c])
        watch.letGo()
        #expect(watch.held.isEmpty)
        // After letting go, the next leases taken count from their own asking.
        watch.acquired([a], sentAt: start + .seconds(30))
        #expect(!watch.mayHaveExpired(at: start + .seconds(34), leaseSeconds: 6, margin: .seconds(1)))
    }
}
