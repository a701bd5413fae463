/// One label of a time series: Prometheus's `prometheus.Label`.
public struct RemoteWriteLabel: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A time series' labels, made once per node and metric and shared by all its samples (a
/// sample in the queue costs a reference, a time and a value). Labels are sorted by name, as
/// the protocol asks: `__name__` first.
public final class RemoteWriteSeries: Sendable, Hashable {
    public let labels: [RemoteWriteLabel]

    public init(labels: [RemoteWriteLabel]) {
        self.labels = labels.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// The metric's name: the `__name__` label.
    public var name: String { labels.first { $0.name == "__name__" }?.value ?? "" }

    public func label(_ name: String) -> String? { labels.first { $0.name == name }?.value }

    public static func == (lhs: RemoteWriteSeries, rhs: RemoteWriteSeries) -> Bool { lhs.labels == rhs.labels }
    public func hash(into hasher: inout Hasher) { hasher.combine(labels) }
}

/// One value of one series at one time (milliseconds since the Unix epoch): `prometheus.Sample`.
public struct RemoteWriteSample: Sendable {
    public var series: RemoteWriteSeries
    public var timestamp: Int64
    public var value: Double

    public init(series: RemoteWriteSeries, timestamp: Int64, value: Double) {
        self.series = series
        self.timestamp = timestamp
        self.value = value
    }
}
