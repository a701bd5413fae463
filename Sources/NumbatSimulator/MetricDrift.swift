import ErlangTerm
import Foundation

/// Makes a recorded `collect/1` answer change over time the way a live node's does: counters
/// (reductions, bytes in and out, garbage collections, uptime...) grow at their own steady rate
/// from the recorded value; gauges (memory, processes, queues, utilization) swing around it, each
/// node on its own phase. Deterministic in the node's seed and the time, so tests can check it.
public struct MetricDrift: Sendable, Equatable {
    /// Per-node seed: phases and rates differ between nodes.
    public var seed: UInt64

    /// Metrics that only grow on a node, and how much per second relative to nothing: their
    /// recorded value is the start.
    static let counterRates: [String: Double] = [
        "reductions": 400_000, "exact_reductions": 380_000, "context_switches": 900,
        "io_input_bytes": 2_000, "io_output_bytes": 1_500, "gc_count": 60, "gc_words_reclaimed": 250_000,
        "runtime_ms": 40, "wall_clock_ms": 1_000, "uptime_seconds": 1,
        "dist_sent_bytes": 3_000, "dist_received_bytes": 2_500, "os_context_switches": 4_000, "os_processes_created": 5,
    ]

    /// Gauges that stay put on a real node (limits, processor and scheduler counts...).
    static let constant: Set<String> = [
        "process_limit", "port_limit", "atom_limit", "ets_limit", "logical_processors", "logical_processors_available",
        "logical_processors_online", "schedulers", "schedulers_online", "dirty_cpu_schedulers", "dirty_cpu_schedulers_online",
        "dirty_io_schedulers", "thread_pool_size", "dist_buffer_busy_limit", "dist_nodes", "dist_hidden_nodes",
        "word_size", "otp_release", "os_memory_total", "os_swap_total",
    ]

    public init(seed: UInt64) { self.seed = seed }

    /// `recorded` (`{ok, {Metrics, Details}}`) as the node would answer `seconds` into the run.
    public func collected(_ recorded: Term, at seconds: Double) -> Term {
        guard let outer = recorded.tupleElements, outer.count == 2, let inner = outer[1].tupleElements, inner.count == 2,
              let metrics = inner[0].listElements
        else { return recorded }
        let changed = metrics.map { entry -> Term in
            guard let pair = entry.tupleElements, pair.count == 2, let name = pair[0].atomValue?.name else { return entry }
            return .tuple([pair[0], value(of: name, recorded: pair[1], at: seconds)])
        }
        return .tuple([outer[0], .tuple([.list(changed), inner[1]])])
    }

    /// One metric's value at `seconds`.
    func value(of name: String, recorded: Term, at seconds: Double) -> Term {
        if Self.constant.contains(name) { return recorded }
        let salt = Self.mix(seed ^ Self.hash(name))
        if let rate = Self.counterRates[name], let start = recorded.intValue {
            // Each node runs between half and one and a half times the nominal rate.
            let own = rate * (0.5 + Double(salt % 1000) / 1000)
            return .integer(start + Int(own * seconds))
        }
        // Gauges: a slow wave (period 5-15 min) of up to ±20 % and a little jitter.
        let period = 300 + Double(salt % 600)
        let phase = Double((salt >> 20) % 6283) / 1000
        let jitter = Double(Self.mix(salt ^ UInt64(max(0, seconds))) % 1000) / 1000 - 0.5
        let factor = 1 + 0.2 * sin(2 * Double.pi * seconds / period + phase) + 0.04 * jitter
        switch recorded {
        case .integer(let start):
            return .integer(max(0, Int((Double(start) * factor).rounded())))
        case .float(let start):
            // Fractions (scheduler utilization) stay fractions.
            let value = start * factor
            return .float(start <= 1 ? min(1, max(0, value)) : max(0, value))
        default:
            return recorded
        }
    }

    /// splitmix64's finaliser: spreads a seed over all bits.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a over the name: stable across runs (Swift's `Hasher` is seeded per process).
    static func hash(_ name: String) -> UInt64 {
        name.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
