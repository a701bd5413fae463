import Foundation

/// `GET /api/metrics/nodes/{id}` (and the answer of `PUT .../interval`): every built-in metric
/// with the node's latest value, then the Folsom/Exometer metrics the node has. `numbat metrics
/// list` reads it; the dashboard's node page too.
public struct NodeMetricsResponse: Codable, Sendable, Equatable {
    /// A catalogue entry with the node's latest value (absent when not collected yet).
    public struct Reading: Codable, Sendable, Equatable {
        public var name: String
        public var unit: String
        /// `gauge` or `counter`: a string, so a kind a newer server adds still decodes.
        public var kind: String
        public var group: String
        public var description: String
        public var value: Double?

        public init(name: String, unit: String, kind: String, group: String, description: String, value: Double?) {
            self.name = name
            self.unit = unit
            self.kind = kind
            self.group = group
            self.description = description
            self.value = value
        }
    }

    /// One bucket of a Folsom/Exometer histogram: how many values were at most `upperBound`.
    public struct HistogramBucket: Codable, Sendable, Equatable {
        public var upperBound: Double
        public var count: Double

        public init(upperBound: Double, count: Double) {
            self.upperBound = upperBound
            self.count = count
        }

        enum CodingKeys: String, CodingKey {
            case upperBound = "upper_bound"
            case count
        }
    }

    public var node: UUID
    /// `agent` or `agentless`; absent until the first collection.
    public var source: String?
    public var collectedAt: Date?
    public var intervalSeconds: Double
    public var metrics: [Reading]
    /// Facts that are not numbers (the process with the longest queue, ...).
    public var details: [String: String]
    /// Folsom/Exometer histograms' buckets, by metric.
    public var histograms: [String: [HistogramBucket]]

    public init(node: UUID, source: String?, collectedAt: Date?, intervalSeconds: Double, metrics: [Reading],
                details: [String: String], histograms: [String: [HistogramBucket]]) {
        self.node = node
        self.source = source
        self.collectedAt = collectedAt
        self.intervalSeconds = intervalSeconds
        self.metrics = metrics
        self.details = details
        self.histograms = histograms
    }

    enum CodingKeys: String, CodingKey {
        case node, source, metrics, details, histograms
        case collectedAt = "collected_at"
        case intervalSeconds = "interval_seconds"
    }
}
