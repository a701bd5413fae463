/// When to try a lost node again (seed 4.1.4 step 7): 2 s at first, growing by half each failed
/// attempt up to 30 s, and forever while the node stays DOWN. Pure.
public struct ReconnectSchedule: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    private(set) var current: Duration

    public init(initial: Duration = .seconds(2), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.current = initial
    }

    /// The wait before the next attempt; each call lengthens the following one.
    public mutating func nextDelay() -> Duration {
        defer { current = min(current * 1.5, maximum) }
        return current
    }

    /// After a successful connection the next loss starts from `initial` again.
    public mutating func reset() { current = initial }
}
