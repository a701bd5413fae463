import Foundation

/// What a server knows of its own leases, and when it must assume they are gone: pure, so the
/// decisions that keep a node from having two managers are tested without a database or a clock.
///
/// Leases last `leaseSeconds` from when their renewal (or acquisition) was sent: the database
/// stamps them later, so counting from the sending is safe. Past that, less a margin for
/// letting go, the other servers may take the nodes, and this one must let every node go.
struct LeaseWatch: Equatable {
    /// When the last successful renewal was sent; nil before the first one, and after letting go.
    private(set) var lastRenewal: ContinuousClock.Instant?
    /// The leases held, as of the last renewal and the acquisitions since.
    private(set) var held: Set<UUID> = []

    /// A heartbeat sent at `sent` renewed `held` (the leases the database says are still ours).
    mutating func renewed(_ held: Set<UUID>, sentAt sent: ContinuousClock.Instant) {
        lastRenewal = sent
        self.held = held
    }

    /// Leases just taken, asked for at `sent`. With none held before (at start, after letting
    /// every node go) they are the oldest held, so the watch counts from them: counted from the
    /// renewal before them, a takeover of thousands of nodes that took a few seconds looked like
    /// leases about to expire, and the server let every node go moments after it took them,
    /// again and again (seen with 10,000 nodes on PostgreSQL).
    mutating func acquired(_ got: Set<UUID>, sentAt sent: ContinuousClock.Instant) {
        if held.isEmpty, !got.isEmpty { lastRenewal = max(lastRenewal ?? sent, sent) }
        held.formUnion(got)
    }

    /// Leases handed to other servers by a plan.
    mutating func released(_ ids: some Sequence<UUID>) {
        held.subtract(ids)
    }

    /// Whether the leases may have expired at `now`: never renewed, or renewed longer ago than
    /// `leaseSeconds` less `margin` (the time letting go takes).
    func mayHaveExpired(at now: ContinuousClock.Instant, leaseSeconds: TimeInterval, margin: Duration) -> Bool {
        guard let lastRenewal else { return true }
        return now - lastRenewal > .seconds(leaseSeconds) - margin
    }

    /// Every node was let go.
    mutating func letGo() {
        held = []
    }
}
