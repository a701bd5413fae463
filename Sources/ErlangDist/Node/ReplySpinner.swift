#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// One thread per process that keeps a CPU busy while a call armed it, so that the reply's
/// wake-up finds a running CPU instead of a halted one (`BusyWaitPolicy` says why and when).
///
/// The thread runs at the lowest priority (nice 19): any other thread that wakes on its CPU
/// takes the CPU at once, and on a busy machine it gets next to no time. It spins only between
/// an `arm` and, when every armed call has ended, a short `linger` (the caller's next call
/// comes within it), and never past the latest armed call's budget, whatever becomes of the
/// calls; then it sleeps on a condition until the next `arm`. Started at the first `arm`.
public final class ReplySpinner: Sendable {
    /// The process's spinner: CPUs are the process's to keep awake, not a node's.
    public static let shared = ReplySpinner()

    /// How long the spinner goes on after the last armed call ended: the time a caller takes
    /// to make its next call.
    static let linger: UInt64 = 30_000

    /// Monotonic nanoseconds until which the spinner spins.
    private let spinUntil = Atomic<UInt64>(0)
    /// Armed calls not ended yet.
    private let outstanding = Atomic<Int>(0)
    private let sleeping = Atomic<Bool>(true)
    /// 1 when an `arm` found the spinner asleep.
    private let wake = ConditionLock(value: 0)
    private let started = Atomic<Bool>(false)

    private let armed = Atomic<Int>(0)

    private init() {}

    /// Calls that armed the spinner since the process started (for tests).
    public var arms: Int { armed.load(ordering: .relaxed) }

    /// Whether the spinner is spinning now (for tests: it sleeps once every call ended).
    public var isSpinning: Bool { !sleeping.load(ordering: .sequentiallyConsistent) }

    /// A call was sent whose reply may come within `budget` nanoseconds: spin until it ends,
    /// for at most `budget`.
    func arm(budget: UInt64) {
        if !started.load(ordering: .relaxed), started.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            let thread = Thread { [self] in self.run() }
            thread.name = "numbat-reply-spinner"
            thread.start()
        }
        armed.add(1, ordering: .relaxed)
        outstanding.add(1, ordering: .sequentiallyConsistent)
        spinUntil.max(Self.now() &+ budget, ordering: .sequentiallyConsistent)
        // The spinner stores `sleeping` before it reads `spinUntil` a last time, and this reads
        // `sleeping` after it stored `spinUntil`: one of the two sees the other's store.
        if sleeping.load(ordering: .sequentiallyConsistent) {
            wake.lock()
            wake.unlock(withValue: 1)
        }
    }

    /// An armed call ended (its reply came, it timed out, was cancelled or failed). When none
    /// is left, the spinner stops after `linger`. A call armed between the count's fall and the
    /// cut loses its spin, never more: the spin is a speed-up, not a promise.
    func disarm() {
        let left = outstanding.subtract(1, ordering: .sequentiallyConsistent).newValue
        guard left <= 0 else { return }
        spinUntil.min(Self.now() &+ Self.linger, ordering: .sequentiallyConsistent)
    }

    /// Monotonic nanoseconds, NIO's clock (the one reply deadlines use).
    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    private func run() {
        #if canImport(Glibc)
        // Linux gives each thread its own nice value; 0 names the calling thread.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        #endif
        while true {
            wake.lock(whenValue: 1)
            wake.unlock(withValue: 0)
            sleeping.store(false, ordering: .sequentiallyConsistent)
            var now = Self.now()
            while true {
                while now < spinUntil.load(ordering: .relaxed) { now = Self.now() }
                sleeping.store(true, ordering: .sequentiallyConsistent)
                guard Self.now() < spinUntil.load(ordering: .sequentiallyConsistent) else { break }
                sleeping.store(false, ordering: .sequentiallyConsistent)
            }
        }
    }
}
