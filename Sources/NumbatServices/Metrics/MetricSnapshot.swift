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

    /// Reads the agent's `{ok, {[{Name, Value}], #{Key => Detail}}}` answer.
    static func fromAgent(_ reply: Term, at time: Date) throws -> MetricSnapshot {
        guard case .tuple(let outer) = reply, outer.count == 2, outer[0] == .atom("ok"),
              case .tuple(let inner) = outer[1], inner.count == 2, let pairs = inner[0].listElements
        else {
            throw MetricsError(message: "unexpected answer from the metrics agent: \(reply.erlangDescription.prefix(200))")
        }
        var values: [String: Double] = [:]
        for pair in pairs {
            guard case .tuple(let entry) = pair, entry.count == 2, let name = entry[0].atomValue?.name,
                  let value = entry[1].doubleValue
            else { continue }
            values[name] = value
        }
        var details: [String: String] = [:]
        for (key, value) in inner[1].mapValue ?? [:] {
            guard let name = key.atomValue?.name, value != .atom("undefined") else { continue }
            details[name] = value.erlangDescription
        }
        return MetricSnapshot(time: time, source: .agent, values: values, details: details)
    }
}

struct MetricsError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
