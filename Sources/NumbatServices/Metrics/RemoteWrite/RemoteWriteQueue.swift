/// The batching, retry and drop decisions of one remote-write endpoint, as a value: samples go
/// in (`enqueue`), the driver asks what to do (`next`: send this batch, wait until then, or
/// nothing to do), and says how a send went (`finish`). No I/O and no clock of its own: every
/// decision takes `now`, so the tests drive it directly.
///
/// - Bounded: at most `capacity` samples are held, the batch being sent included. When more
///   come, the oldest not being sent are dropped (and counted): the newest data is worth most.
/// - Batched: a request carries up to `batchSize` samples; a smaller batch goes once its oldest
///   sample has waited `batchDelay` (so collections from many nodes share requests).
/// - Retried: a network error, a 5xx or a 429 puts the batch back at the front and waits,
///   `minBackoff` doubling up to `maxBackoff`, or as long as the receiver's `Retry-After` asks
///   (at least `minBackoff`, at most `maxRetryAfter`); any other 4xx drops it (and counts it):
///   the receiver refuses those samples and would refuse them again.
/// - In order: one request at a time, oldest samples first, as receivers want each series.
public struct RemoteWriteQueue: Sendable {
    public struct Settings: Sendable, Equatable {
        public var capacity = 100_000
        public var batchSize = 2_000
        public var batchDelay: Duration = .seconds(1)
        public var minBackoff: Duration = .milliseconds(500)
        public var maxBackoff: Duration = .seconds(30)
        /// The longest wait a receiver's `Retry-After` gets: a receiver's mistake (a date a day
        /// ahead) must not stop the sending for that long.
        public var maxRetryAfter: Duration = .seconds(300)

        public init(capacity: Int = 100_000, batchSize: Int = 2_000, batchDelay: Duration = .seconds(1),
                    minBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(30),
                    maxRetryAfter: Duration = .seconds(300))
        {
            self.capacity = capacity
            self.batchSize = batchSize
            self.batchDelay = batchDelay
            self.minBackoff = minBackoff
            self.maxBackoff = maxBackoff
            self.maxRetryAfter = maxRetryAfter
        }

        /// Why these settings cannot work, if they cannot.
        public var problem: String? {
            if batchSize < 1 { return "the batch size must be at least 1" }
            if capacity < batchSize { return "the queue capacity (\(capacity)) must be at least the batch size (\(batchSize))" }
            if batchDelay < .zero { return "the batch delay must not be negative" }
            if minBackoff <= .zero || maxBackoff < minBackoff { return "the backoff must be positive, its maximum at least its minimum" }
            if maxRetryAfter < minBackoff { return "the longest Retry-After wait must be at least the minimum backoff" }
            return nil
        }
    }

    /// What happened so far, for the status route and the server's own metrics.
    public struct Counters: Sendable, Equatable {
        /// Samples the receiver accepted (2xx), and the requests that carried them.
        public var sentSamples = 0
        public var sentBatches = 0
        /// Requests that failed, retried or not.
        public var failedBatches = 0
        /// Samples dropped unsent because the queue was full.
        public var droppedSamples = 0
        /// Samples the receiver refused with a 4xx (not retried).
        public var rejectedSamples = 0
        public init() {}
    }

    public enum Action: Sendable {
        /// Send these samples, then call `finish`.
        case send([RemoteWriteSample])
        /// Nothing to send before then (a backoff, or a batch still filling); ask again then,
        /// or sooner when samples come.
        case wait(until: ContinuousClock.Instant)
        /// Nothing queued (or a send under way): ask again when samples come.
        case idle
    }

    public enum Outcome: Sendable, Equatable {
        /// 2xx.
        case delivered
        /// Network error, timeout, 5xx, 429: try the same samples again after a backoff.
        case retryable
        /// Any other 4xx: the receiver refuses these samples; drop them.
        case rejected
    }

    public let settings: Settings
    public private(set) var counters = Counters()
    /// Oldest first, from `head` on (the part before `head` is spent and compacted away).
    private var pending: [RemoteWriteSample] = []
    private var head = 0
    /// The batch being sent: out of `pending`, but still counted against the capacity.
    private var sending: [RemoteWriteSample]?
    private var backoff: Duration
    private var retryAt: ContinuousClock.Instant?
    /// When the pending samples started waiting (the oldest batch's age decides when it goes).
    private var waitingSince: ContinuousClock.Instant?

    public init(settings: Settings) {
        precondition(settings.problem == nil, settings.problem ?? "")
        self.settings = settings
        backoff = settings.minBackoff
    }

    /// Samples held: queued and being sent.
    public var count: Int { pending.count - head + (sending?.count ?? 0) }
    /// Samples waiting to be sent (not in the batch being sent).
    public var queuedCount: Int { pending.count - head }
    public var isSending: Bool { sending != nil }
    /// When the next attempt is due after a failure.
    public var backingOffUntil: ContinuousClock.Instant? { retryAt }
    /// The wait before the next retry, should the next send fail.
    public var currentBackoff: Duration { backoff }

    /// Queues samples (oldest first); returns how many samples were dropped to stay within the
    /// capacity: the oldest ones not being sent, which may be some of these.
    @discardableResult
    public mutating func enqueue(_ samples: [RemoteWriteSample], now: ContinuousClock.Instant) -> Int {
        guard !samples.isEmpty else { return 0 }
        if queuedCount == 0 { waitingSince = now }
        pending.append(contentsOf: samples)
        return enforceCapacity()
    }

    /// What to do now. `flushing` (the server is stopping): a partial batch goes without
    /// waiting for the batch delay; a backoff is still waited out.
    public mutating func next(now: ContinuousClock.Instant, flushing: Bool = false) -> Action {
        guard sending == nil else { return .idle }
        if let retryAt {
            guard now >= retryAt else { return .wait(until: retryAt) }
            self.retryAt = nil
            // Straight after a backoff the batch goes as it is: it has waited long enough.
            waitingSince = nil
        }
        guard queuedCount > 0 else { return .idle }
        if !flushing, queuedCount < settings.batchSize, let since = waitingSince, now < since + settings.batchDelay {
            return .wait(until: since + settings.batchDelay)
        }
        let end = head + min(settings.batchSize, queuedCount)
        let batch = Array(pending[head..<end])
        head = end
        compact()
        sending = batch
        return .send(batch)
    }

    /// How the send of the batch `next` gave went. `retryAfter`: the wait the receiver asked
    /// for with a retryable answer (its `Retry-After`, `RemoteWriteRequest.retryAfter`); it
    /// replaces this retry's backoff, kept within `minBackoff...maxRetryAfter` (a `Retry-After:
    /// 0` must not make a tight loop). The doubling goes on underneath, for the next failure
    /// that names no wait.
    public mutating func finish(_ outcome: Outcome, now: ContinuousClock.Instant, retryAfter: Duration? = nil) {
        guard let batch = sending else { return }
        sending = nil
        switch outcome {
        case .delivered:
            counters.sentSamples += batch.count
            counters.sentBatches += 1
            backoff = settings.minBackoff
        case .rejected:
            counters.failedBatches += 1
            counters.rejectedSamples += batch.count
            // The receiver answered: it is up, the next batch need not wait.
            backoff = settings.minBackoff
        case .retryable:
            counters.failedBatches += 1
            pending.replaceSubrange(0..<head, with: batch)
            head = 0
            enforceCapacity()
            let wait = retryAfter.map { min(max($0, settings.minBackoff), settings.maxRetryAfter) } ?? backoff
            retryAt = now + wait
            backoff = min(backoff * 2, settings.maxBackoff)
        }
        if queuedCount == 0 { waitingSince = nil }
    }

    /// Drops the oldest samples not being sent until at most `capacity` are held.
    @discardableResult
    private mutating func enforceCapacity() -> Int {
        let excess = min(count - settings.capacity, queuedCount)
        guard excess > 0 else { return 0 }
        head += excess
        counters.droppedSamples += excess
        compact()
        return excess
    }

    /// Frees the spent front once it is most of the array (amortised O(1) per sample).
    private mutating func compact() {
        if head == pending.count {
            pending.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096, head * 2 > pending.count {
            pending.removeSubrange(0..<head)
            head = 0
        }
    }
}
