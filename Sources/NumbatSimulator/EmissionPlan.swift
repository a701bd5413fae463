import ErlangTerm
import Foundation

/// What the simulated nodes send on their own, second by second: batches of log events in the
/// log agent's format and SASL alarms set and cleared in the alarm agent's, at configured mean
/// rates (Poisson-distributed counts; deterministic in the seed). Pure: `Simulator` sends what it
/// returns.
public struct EmissionPlan: Sendable {
    public enum Emission: Sendable, Equatable {
        /// `{numbat_logs, [Entry], 0}` for the log agent's owner.
        case logs(Term)
        /// `{numbat_alarms, set, Id, Description}` or `{numbat_alarms, clear, Id}` for the alarm agent's owner.
        case alarm(Term)
    }

    let logsPerSecond: Double
    let alarmsPerSecond: Double
    private var random: SplitMix
    /// Alarms set per node, with the second they clear.
    private(set) var active: [Int: Int] = [:]

    /// Levels in the order of severity, most severe first (logger's).
    static let levels: [Atom] = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"]
    /// How often each level occurs among the generated events (debug is never generated).
    static let mix: [(Atom, Double)] = [("info", 0.60), ("notice", 0.20), ("warning", 0.12), ("error", 0.07), ("critical", 0.01)]
    static let texts = ["session closed for client ~p after ~b requests", "cache refreshed: ~b entries in ~b ms",
                        "retrying upstream call to ~p (attempt ~b)", "request timed out after ~b ms",
                        "worker ~p restarted by supervisor ~p", "queue above soft limit: ~b messages"]
    static let alarmID: Term = .tuple([.atom("disk_almost_full"), .string("/srv/data")])

    public init(logsPerMinute: Double, alarmsPerHour: Double, seed: UInt64) {
        logsPerSecond = max(0, logsPerMinute) / 60
        alarmsPerSecond = max(0, alarmsPerHour) / 3600
        random = SplitMix(seed: seed)
    }

    /// What node `node` sends in second `second`. `logLevel` is its log agent's level (nil: no
    /// log agent); without an alarm agent no alarm is sent (and none stays set).
    public mutating func next(node: Int, second: Int, logLevel: Atom?, alarmAgent: Bool, now: Date) -> [Emission] {
        var out: [Emission] = []
        if let logLevel {
            let threshold = Self.levels.firstIndex(of: logLevel) ?? Self.levels.count - 1
            let count = random.poisson(logsPerSecond)
            var entries: [Term] = []
            for _ in 0..<count {
                let level = pickLevel()
                guard let rank = Self.levels.firstIndex(of: level), rank <= threshold else { continue }
                entries.append(entry(node: node, level: level, now: now))
            }
            if !entries.isEmpty { out.append(.logs(.tuple([.atom("numbat_logs"), .list(entries), .integer(0)]))) }
        }
        if !alarmAgent {
            active[node] = nil
        } else if let clears = active[node] {
            if second >= clears {
                active[node] = nil
                out.append(.alarm(.tuple([.atom("numbat_alarms"), .atom("clear"), Self.alarmID])))
            }
        } else if random.unit() < alarmsPerSecond {
            active[node] = second + 30 + Int(random.next() % 91)
            out.append(.alarm(.tuple([.atom("numbat_alarms"), .atom("set"), Self.alarmID, .list([])])))
        }
        return out
    }

    private mutating func pickLevel() -> Atom {
        var draw = random.unit()
        for (level, share) in Self.mix {
            if draw < share { return level }
            draw -= share
        }
        return "info"
    }

    /// One event as the log agent forwards it: `{Micros, Level, Text, [{Key, Value}]}`.
    private mutating func entry(node: Int, level: Atom, now: Date) -> Term {
        let text = Self.texts[Int(random.next() % UInt64(Self.texts.count))]
            .replacingOccurrences(of: "~p", with: "<0.\(100 + random.next() % 5000).0>")
            .replacingOccurrences(of: "~b", with: "\(random.next() % 10_000)")
        let micros = Int(now.timeIntervalSince1970 * 1_000_000)
        return .tuple([.integer(micros), .atom(level), .binary(Array(text.utf8)), .list([
            .tuple([.binary(Array("pid".utf8)), .binary(Array("<0.\(200 + node % 1000).0>".utf8))]),
            .tuple([.binary(Array("mfa".utf8)), .binary(Array("sim_worker:handle_info/2".utf8))]),
        ])])
    }
}

/// splitmix64: small, fast and reproducible.
struct SplitMix: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A Poisson-distributed count with mean `mean` (Knuth's method; the means here are small).
    mutating func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        let limit = exp(-min(mean, 30))
        var product = unit()
        var count = 0
        while product > limit {
            count += 1
            product *= unit()
        }
        return count
    }
}
