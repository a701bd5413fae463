import NIOConcurrencyHelpers

/// A background loop's sleep that another task can end early: the alert queue's (woken when a
/// delivery is queued) and the metric flush's (woken by the first points after an idle spell).
///
/// A wake while the loop is not asleep is kept for its next sleep, so a wake between the
/// loop's last look and its sleep is not lost. A timer that is overtaken by a wake ends
/// nothing: the pattern this replaces (a timer task that yields to the loop's stream after its
/// `Task.sleep`) yielded also when cancelled, so every wake left a stale yield that ended the
/// next sleep at once, and that sleep's cancelled timer the one after: the loop spun.
final class LoopSleep: Sendable {
    enum Outcome: Equatable, Sendable {
        /// `wake()` was called during the sleep or since the last one.
        case woken
        /// The limit passed.
        case timedOut
        /// The sleeping task was cancelled.
        case cancelled
    }

    private struct State {
        var sleeper: CheckedContinuation<Outcome, Never>?
        /// Which sleep the sleeper and the timer belong to: a timer of an earlier sleep ends nothing.
        var sleep = 0
        var timer: Task<Void, Never>?
        var wokenEarly = false
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    /// Ends the current sleep, or the next one at once.
    func wake() {
        end(sleep: nil, with: .woken)
    }

    /// Sleeps until `wake()`, the limit, or the task's cancellation, whichever comes first.
    /// One task sleeps at a time.
    func sleep(upTo limit: Duration) async -> Outcome {
        let number = state.withLockedValue { state -> Int in
            state.sleep += 1
            return state.sleep
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let early = state.withLockedValue { state -> Outcome? in
                    if state.wokenEarly {
                        state.wokenEarly = false
                        return .woken
                    }
                    if Task.isCancelled { return .cancelled }
                    state.sleeper = continuation
                    state.timer = Task { [weak self] in
                        guard (try? await Task.sleep(for: limit)) != nil else { return }
                        self?.end(sleep: number, with: .timedOut)
                    }
                    return nil
                }
                if let early { continuation.resume(returning: early) }
            }
        } onCancel: {
            end(sleep: number, with: .cancelled)
        }
    }

    /// Resumes the sleeper of sleep `number` (any sleep when nil) with `outcome`; a wake with no
    /// sleeper is kept for the next sleep.
    private func end(sleep number: Int?, with outcome: Outcome) {
        let (sleeper, timer) = state.withLockedValue { state -> (CheckedContinuation<Outcome, Never>?, Task<Void, Never>?) in
            if let number, number != state.sleep { return (nil, nil) }
            guard let sleeper = state.sleeper else {
                if outcome == .woken { state.wokenEarly = true }
                return (nil, nil)
            }
            state.sleeper = nil
            defer { state.timer = nil }
            return (sleeper, outcome == .timedOut ? nil : state.timer)
        }
        timer?.cancel()
        sleeper?.resume(returning: outcome)
    }
}
