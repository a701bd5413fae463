import Foundation

/// A collection as remote-write samples, named as the `/metrics` export names them
/// (`PrometheusExposition`): `erlang_memory_total_bytes{node, family}`, counters in base units
/// with `_total`, Folsom and Exometer metrics as `folsom_metric{metric="..."}`. The series of a
/// node are made once and reused while its name and family stay the same. Pure.
public struct RemoteWriteSamples: Sendable {
    /// Each catalogued metric's Prometheus name and what to divide by for its base unit: the
    /// export's factor (0.001 from milliseconds) as a divisor (1000), so 207 ms is sent as 0.207,
    /// the double nearest it, not 207 x 0.001 (0.20700000000000002), which a receiver storing
    /// decimals (VictoriaMetrics) would give back different.
    static let names: [String: (name: String, divisor: Double)] = Dictionary(uniqueKeysWithValues: MetricCatalog.builtIn.map { definition in
        let (name, scale) = PrometheusExposition.prometheusName(definition)
        return (definition.name, (name, scale == 1 ? 1 : (1 / scale).rounded()))
    })

    private struct NodeSeries {
        var node: String
        var family: String
        var series: [String: (series: RemoteWriteSeries, divisor: Double)] = [:]
    }

    private var nodes: [UUID: NodeSeries] = [:]

    public init() {}

    /// The samples of one collection of one node (`values` by Numbat's metric names), at `time`.
    /// Values that are not finite are left out, as the Graphite push leaves them out.
    public mutating func samples(node id: UUID, name: String, family: String, time: Date, values: [String: Double]) -> [RemoteWriteSample] {
        if nodes[id]?.node != name || nodes[id]?.family != family { nodes[id] = NodeSeries(node: name, family: family) }
        let timestamp = Int64((time.timeIntervalSince1970 * 1000).rounded())
        var samples: [RemoteWriteSample] = []
        samples.reserveCapacity(values.count)
        for (metric, value) in values where value.isFinite {
            let entry: (series: RemoteWriteSeries, divisor: Double)
            if let known = nodes[id]?.series[metric] {
                entry = known
            } else {
                guard let made = Self.series(metric, node: name, family: family) else { continue }
                entry = made
                nodes[id]?.series[metric] = made
            }
            samples.append(RemoteWriteSample(series: entry.series, timestamp: timestamp, value: value / entry.divisor))
        }
        return samples
    }

    /// Forgets a node's series (the node was removed).
    public mutating func forget(node id: UUID) {
        nodes[id] = nil
    }

    static func series(_ metric: String, node: String, family: String) -> (series: RemoteWriteSeries, divisor: Double)? {
        var labels = [RemoteWriteLabel("node", node)]
        // An empty label is no label to Prometheus: a node without a family has none.
        if !family.isEmpty { labels.append(RemoteWriteLabel("family", family)) }
        if let known = names[metric] {
            labels.append(RemoteWriteLabel("__name__", known.name))
            return (RemoteWriteSeries(labels: labels), known.divisor)
        }
        for library in ["folsom", "exometer"] where metric.hasPrefix(library + ".") {
            labels.append(RemoteWriteLabel("__name__", library + "_metric"))
            labels.append(RemoteWriteLabel("metric", String(metric.dropFirst(library.count + 1))))
            return (RemoteWriteSeries(labels: labels), 1)
        }
        // Not catalogued and not a library's: the export has no name for it either.
        return nil
    }
}
