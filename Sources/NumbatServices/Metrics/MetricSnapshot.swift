import ErlangTerm
import Foundation

/// One collection from one node: every metric's value at `time`, and details that are not
/// numbers (the process with the longest queue, buffers per peer).
public struct MetricSnapshot: Sendable, Equatable {
    public enum Source: String, Codable, Sendable {
        /// The injected agent: every built-in metric in one call.
        case agent
        /// Plain rpc of BIFs when the agent cannot run: the core metrics only.
        case agentless
    }

    public var time: Date
    public var source: Source
    public var values: [String: Double]
    public var details: [String: String]
    /// Folsom/Exometer histograms: each one's buckets (upper bound, count), by metric prefix.
    public var histograms: [String: [HistogramBucket]] = [:]

    public struct HistogramBucket: Sendable, Equatable, Codable {
        public var upperBound: Double
        public var count: Double

        enum CodingKeys: String, CodingKey {
            case upperBound = "upper_bound"
            case count
        }
    }

    /// Library metrics (`folsom.` and `exometer.` prefixes) are not in the catalogue.
    public static func isLibraryMetric(_ name: String) -> Bool {
        name.hasPrefix("folsom.") || name.hasPrefix("exometer.")
    }

    /// Reads the agent's `{ok, {[{Name, Value}], #{Key => Detail}}}` answer.
    static func fromAgent(_ reply: Term, at time: Date) throws -> MetricSnapshot {
        guard case .tuple(let outer) = reply, outer.count == 2, outer[0] == .atom("ok"),
              case .tuple(let inner) = outer[1], inner.count == 2, let pairs = inner[0].listElements
        else {
            throw MetricsError(message: "unexpected answer from the metrics agent: \(reply.erlangDescription.prefix(200))")
        }
        var values: [String: Double] = [:]
        for pair in pairs {
            // Built-in names are atoms; Folsom/Exometer names are binaries (no atoms made on the node).
            guard case .tuple(let entry) = pair, entry.count == 2,
                  let name = entry[0].atomValue?.name ?? entry[0].stringValue,
                  let value = entry[1].doubleValue
            else { continue }
            values[name] = value
        }
        var details: [String: String] = [:]
        var histograms: [String: [HistogramBucket]] = [:]
        for (key, value) in inner[1].mapValue ?? [:] {
            guard let name = key.atomValue?.name, value != .atom("undefined") else { continue }
            if name == "histograms" {
                for entry in value.listElements ?? [] {
                    guard let parts = entry.tupleElements, parts.count == 2, let metric = parts[0].stringValue else { continue }
                    histograms[metric] = (parts[1].listElements ?? []).compactMap { bucket in
                        guard let pair = bucket.tupleElements, pair.count == 2,
                              let upper = pair[0].doubleValue, let count = pair[1].doubleValue else { return nil }
                        return HistogramBucket(upperBound: upper, count: count)
                    }
                }
                continue
            }
            details[name] = value.erlangDescription
        }
        var snapshot = MetricSnapshot(time: time, source: .agent, values: values, details: details)
        snapshot.histograms = histograms
        return snapshot
    }
}

struct MetricsError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
