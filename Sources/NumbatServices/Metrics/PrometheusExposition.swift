import Foundation

/// Renders metrics in the Prometheus text exposition format (version 0.0.4): one family per
/// metric, named in Prometheus conventions (`erlang_` prefix, base units, `_total` on counters),
/// labelled with node and family. Pure.
enum PrometheusExposition {
    struct Series {
        var node: String
        var family: String
        var values: MetricValues
    }

    static func render(_ series: [Series], catalog: [MetricDefinition] = MetricCatalog.builtIn) -> String {
        var output = ""
        for definition in catalog {
            let samples = series.compactMap { entry in entry.values[definition.name].map { (entry, $0) } }
            guard !samples.isEmpty else { continue }
            let (name, scale) = prometheusName(definition)
            output += "# HELP \(name) \(escapeHelp(definition.description))\n"
            output += "# TYPE \(name) \(definition.kind == .counter ? "counter" : "gauge")\n"
            for (entry, value) in samples {
                output += "\(name){node=\"\(escapeLabel(entry.node))\",family=\"\(escapeLabel(entry.family))\"} \(format(value * scale))\n"
            }
        }
        // Folsom and Exometer metrics: one gauge family per library, the metric's own name a label.
        for library in ["folsom", "exometer"] {
            let prefix = library + "."
            let samples = series.flatMap { entry in
                entry.values.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }.map { (entry, String($0.key.dropFirst(prefix.count)), $0.value) }
            }
            guard !samples.isEmpty else { continue }
            output += "# HELP \(library)_metric A \(library.capitalized) metric of the node, named by the metric label\n"
            output += "# TYPE \(library)_metric gauge\n"
            for (entry, metric, value) in samples {
                output += "\(library)_metric{node=\"\(escapeLabel(entry.node))\",family=\"\(escapeLabel(entry.family))\",metric=\"\(escapeLabel(metric))\"} \(format(value))\n"
            }
        }
        return output
    }

    /// Names taken exactly as prometheus.erl's VM collectors export them, so dashboards built on
    /// prometheus.erl keep working. `promtool check metrics` objects to the first three (a gauge
    /// ending in `_count`); docs/metrics.md lists them as the deliberate exceptions.
    static let prometheusErlNames: [String: String] = [
        "process_count": "erlang_vm_process_count",
        "port_count": "erlang_vm_port_count",
        "atom_count": "erlang_vm_atom_count",
        "ets_count": "erlang_vm_ets_tables",
    ]

    /// Gauges whose catalogue names end in a suffix Prometheus keeps for counters.
    static let gaugeNames: [String: String] = [
        "message_queue_total": "erlang_message_queue_messages",
        "ets_objects_total": "erlang_ets_objects",
    ]

    /// `memory_total` (bytes) -> `erlang_memory_total_bytes`; `runtime_ms` (counter) ->
    /// `erlang_runtime_seconds_total` with values scaled to seconds; the names above as given.
    static func prometheusName(_ definition: MetricDefinition) -> (String, Double) {
        if let name = prometheusErlNames[definition.name] ?? gaugeNames[definition.name] { return (name, 1) }
        var base = definition.name
        var scale = 1.0
        var unit = ""
        switch definition.unit {
        case "bytes":
            unit = "_bytes"
        case "milliseconds":
            if base.hasSuffix("_ms") { base.removeLast(3) }
            unit = "_seconds"
            scale = 0.001
        case "seconds":
            if base.hasSuffix("_seconds") { base.removeLast(8) }
            unit = "_seconds"
        case "ratio":
            unit = "_ratio"
        default:
            break
        }
        if base.hasSuffix(unit) { unit = "" }
        let name = "erlang_" + base + unit + (definition.kind == .counter ? "_total" : "")
        return (name, scale)
    }

    static func escapeLabel(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
