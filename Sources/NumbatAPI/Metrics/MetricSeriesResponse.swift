import Foundation

/// `GET /api/metrics/nodes/{id}/series` and `GET /api/metrics/families/{id}/series`: stored
/// history, each part of the range from the finest tier that holds it. `numbat metrics get`
/// reads it; the dashboard's charts too.
public struct MetricSeriesResponse: Codable, Sendable, Equatable {
    /// One value at one time; a roll-up's average with its minimum and maximum.
    public struct Point: Codable, Sendable, Equatable {
        /// RFC 3339 with milliseconds, as text: points may be closer than a second (live, or a
        /// collection repeated at reconnection), and the CLI prints the time as sent.
        public var t: String
        public var v: Double
        /// Only on rolled-up points.
        public var min: Double?
        public var max: Double?

        public init(t: String, v: Double, min: Double? = nil, max: Double? = nil) {
            self.t = t
            self.v = v
            self.min = min
            self.max = max
        }
    }

    /// One metric of one node.
    public struct Series: Codable, Sendable, Equatable {
        public var node: UUID
        public var nodeName: String
        public var metric: String
        /// Absent for metrics outside the catalogue (Folsom/Exometer).
        public var unit: String?
        public var points: [Point]
        /// Every raw point of the node at or before this time is written to the store: a crash
        /// of the server cannot lose it. Points after it are in the server's memory until its
        /// next flush (every second; longer while a slow store write is under way).
        public var writtenThrough: String?

        public init(node: UUID, nodeName: String, metric: String, unit: String?, points: [Point], writtenThrough: String? = nil) {
            self.node = node
            self.nodeName = nodeName
            self.metric = metric
            self.unit = unit
            self.points = points
            self.writtenThrough = writtenThrough
        }

        enum CodingKeys: String, CodingKey {
            case node, metric, unit, points
            case nodeName = "node_name"
            case writtenThrough = "written_through"
        }
    }

    /// A stretch of the range answered from one tier.
    public struct Part: Codable, Sendable, Equatable {
        public var from: Date
        public var to: Date
        /// 0 for raw points, else the tier's roll-up length.
        public var resolutionSeconds: Int
        /// Present when the caller asked for buckets of this length.
        public var stepSeconds: Int?

        public init(from: Date, to: Date, resolutionSeconds: Int, stepSeconds: Int?) {
            self.from = from
            self.to = to
            self.resolutionSeconds = resolutionSeconds
            self.stepSeconds = stepSeconds
        }

        enum CodingKeys: String, CodingKey {
            case from, to
            case resolutionSeconds = "resolution_seconds"
            case stepSeconds = "step_seconds"
        }
    }

    public var from: Date
    public var to: Date
    /// The coarsest resolution in the answer (0: every point is raw).
    public var resolutionSeconds: Int
    public var stepSeconds: Int?
    /// Oldest first; more than one when the range spans tiers.
    public var parts: [Part]
    public var series: [Series]

    public init(from: Date, to: Date, resolutionSeconds: Int, stepSeconds: Int?, parts: [Part], series: [Series]) {
        self.from = from
        self.to = to
        self.resolutionSeconds = resolutionSeconds
        self.stepSeconds = stepSeconds
        self.parts = parts
        self.series = series
    }

    enum CodingKeys: String, CodingKey {
        case from, to, series, parts
        case resolutionSeconds = "resolution_seconds"
        case stepSeconds = "step_seconds"
    }
}
