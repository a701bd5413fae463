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
    public var values: MetricValues
    /// Details as the agent sent them; printed as Erlang text only when asked for (`details`):
    /// printing them every collection cost a twentieth of it.
    public var detailTerms: [String: Term]
    /// Details as Erlang text.
    public var details: [String: String] { detailTerms.mapValues(\.erlangDescription) }
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

    public init(time: Date, source: Source, values: MetricValues, details: [String: Term] = [:]) {
        self.time = time
        self.source = source
        self.values = values
        detailTerms = details
    }

    /// Reads the agent's `{ok, {[{Name, Value}], #{Key => Detail}}}` answer in place; the
    /// names are checked against `previous` (the node's last collection's) and shared with it
    /// when they are the same.
    static func fromAgent(_ reply: FlatTerm.Element, at time: Date, previous: MetricValues.Layout? = nil) throws -> MetricSnapshot {
        guard reply.kind == .tuple, reply.count == 2, reply.element(0)?.isAtom("ok") == true,
              let inner = reply.element(1), inner.kind == .tuple, inner.count == 2,
              let pairs = inner.element(0), pairs.kind == .list, let detailMap = inner.element(1)
        else {
            throw MetricsError(message: "unexpected answer from the metrics agent: \(reply.term.erlangDescription.prefix(200))")
        }
        var values = MetricValues.Builder(previous: previous, capacity: pairs.count)
        pairs.forEachPair { name, value in
            guard let number = value.number else { return }
            // Built-in names are atoms; Folsom/Exometer names are binaries (no atoms made on
            // the node). The previous collection's name at this place, as nearly always, is
            // compared in place.
            if values.appendIfExpected(number, matching: { name.isAtom($0) }) { return }
            guard let text = name.text else { return }
            values.append(text, number)
        }
        var details: [String: Term] = [:]
        var histograms: [String: [HistogramBucket]] = [:]
        for index in 0..<detailMap.count {
            guard let (key, value) = detailMap.pair(index), let name = key.atomName, !value.isAtom("undefined") else { continue }
            if name == "histograms" {
                for entry in value.elements {
                    guard entry.kind == .tuple, entry.count == 2, let metric = entry.element(0)?.stringValue,
                          let buckets = entry.element(1)
                    else { continue }
                    histograms[metric] = buckets.elements.compactMap { bucket in
                        guard bucket.kind == .tuple, bucket.count == 2, let upper = bucket.element(0).flatMap(Self.number),
                              let count = bucket.element(1).flatMap(Self.number) else { return nil }
                        return HistogramBucket(upperBound: upper, count: count)
                    }
                }
                continue
            }
            details[name] = value.term
        }
        var snapshot = MetricSnapshot(time: time, source: .agent, values: values.finish(), details: details)
        snapshot.histograms = histograms
        return snapshot
    }

    /// A number as a `Double`, as `Term.doubleValue` reads it (big integers too).
    private static func number(_ element: FlatTerm.Element) -> Double? {
        switch element.kind {
        case .integer: return element.integer.map(Double.init)
        case .float: return element.double
        case .other: return element.term.doubleValue
        default: return nil
        }
    }

}

struct MetricsError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
