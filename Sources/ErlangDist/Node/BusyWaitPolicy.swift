import ErlangTerm

/// Whether a call should keep a CPU awake while its reply is awaited, learned per call kind
/// (an rpc's module and function) from how long its replies took. Pure: `LocalNode` keeps it
/// under its state lock and drives `ReplySpinner` with what it answers.
///
/// Why: on this machine (a 2-vCPU virtual machine) a sleeping thread's CPU halts, and waking it
/// for the reply costs more than the round trip's own work: one caller's rpc took 100 µs with
/// Numbat's threads asleep between turns, 26 µs with every CPU kept busy (docs/benchmarks.md,
/// "fifteenth pass"). The BEAM avoids the cost the same way: a scheduler out of work spins a
/// while before it sleeps (`+sbwt`). Spinning is worth it only for replies that come within
/// the spin's budget: a metric collection's reply takes milliseconds, and spinning for it would
/// only burn the budget. So each kind's reply time is kept as a moving average of every reply
/// (spun for or not), and a kind spins while that average is within the budget.
struct BusyWaitPolicy {
    /// What a call is, for learning its reply time: an rpc's module and function.
    struct Kind: Hashable {
        var module: Atom
        var function: Atom
    }

    /// One call's entry in the table, kept with its reply receiver until the reply comes.
    struct Ticket: Equatable {
        var slot: UInt16
        /// Monotonic nanoseconds at the send.
        var sentAt: UInt64
        /// Whether the call armed the spinner (it disarms it however the call ends).
        var spins: Bool
    }

    /// How long a call may spin, in nanoseconds; zero: never.
    let budget: UInt64
    /// Kinds learned at most: past it, new kinds share one slot (an rpc per distinct function
    /// of a caller that invents them would otherwise grow the table without end).
    static let maxKinds = 256

    /// How long after a call that had company calls stay unspun, in nanoseconds.
    static let quietPeriod: UInt64 = 1_000_000

    /// No call spins before this (monotonic nanoseconds): the last call with company plus
    /// `quietPeriod`.
    private var quietFrom: UInt64 = 0
    private var slots: [Kind: UInt16] = [:]
    /// Per slot, the moving average of its reply times in nanoseconds; nil before its first.
    private var averages: [UInt64?] = [nil]

    init(budget: UInt64) {
        self.budget = budget
    }

    /// A call of `kind` is sent at `now`, while `othersInFlight` other calls wait for their
    /// replies: its ticket, saying whether to spin. A call nobody waits on (`callerWaits`
    /// false: a periodic collection) never spins, and its reply is learned like any other.
    ///
    /// Only a lone call spins, and only once no call has had company for `quietPeriod`. With
    /// other calls in flight the node's event loops have their replies to handle, and CPUs do
    /// not go idle; a spinning thread then only takes a CPU's share from them (16 callers' rpc
    /// rate fell from 116,000 to 81,000 calls a second with every call spinning, and by a tenth
    /// with lone calls spinning: many callers' replies come in one read, and the first caller
    /// resumed calls alone for a moment).
    mutating func callSent(_ kind: Kind, at now: UInt64, othersInFlight: Int, callerWaits: Bool = true) -> Ticket {
        guard budget > 0 else { return Ticket(slot: 0, sentAt: now, spins: false) }
        let slot = slot(for: kind)
        if othersInFlight > 0 { quietFrom = now &+ Self.quietPeriod }
        // A kind never answered yet spins once: its first reply shows whether it should.
        let spins = callerWaits && othersInFlight == 0 && now >= quietFrom && (averages[Int(slot)].map { $0 <= budget } ?? true)
        return Ticket(slot: slot, sentAt: now, spins: spins)
    }

    /// The reply of `ticket`'s call came at `now`.
    ///
    /// The average moves a quarter of the way to each reply time, clamped at four budgets, so
    /// that one slow reply (a garbage collection on the node) stops a fast kind's spinning for
    /// a call or two, not for dozens.
    mutating func replied(_ ticket: Ticket, at now: UInt64) {
        guard budget > 0, Int(ticket.slot) < averages.count else { return }
        let sample = min(now &- min(now, ticket.sentAt), 4 * budget)
        if let average = averages[Int(ticket.slot)] {
            averages[Int(ticket.slot)] = (3 * average + sample) / 4
        } else {
            averages[Int(ticket.slot)] = sample
        }
    }

    /// The moving average of `kind`'s reply times, if it has one (for tests and diagnostics).
    func average(of kind: Kind) -> UInt64? {
        slots[kind].flatMap { averages[Int($0)] }
    }

    /// Whether a lone call of `kind` would spin now (for tests and diagnostics).
    func wouldSpin(_ kind: Kind) -> Bool {
        budget > 0 && (slots[kind].flatMap { averages[Int($0)] }.map { $0 <= budget } ?? true)
    }

    /// Kinds with a slot of their own.
    var kindCount: Int { slots.count }

    /// `kind`'s slot; slot 0 is shared by the kinds past `maxKinds`.
    private mutating func slot(for kind: Kind) -> UInt16 {
        if let slot = slots[kind] { return slot }
        guard slots.count < Self.maxKinds else { return 0 }
        let slot = UInt16(averages.count)
        slots[kind] = slot
        averages.append(nil)
        return slot
    }
}
