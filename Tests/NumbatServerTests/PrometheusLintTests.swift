import Foundation
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// The Prometheus export of every catalogued metric and of Folsom and Exometer metrics, held to
/// Prometheus's own linter without a node: names a node cannot produce on this machine (Exometer
/// is not installed here; os_mon's disk figure, mnesia's) are rendered too.
@Suite("Prometheus exposition against promtool", .requires(.promtool))
struct PrometheusLintTests {
    @Test("every catalogued metric's export passes promtool but for prometheus.erl's names, and no two share a name")
    func catalogue() async throws {
        let values = Dictionary(uniqueKeysWithValues: MetricCatalog.builtIn.enumerated().map { ($1.name, Double($0) + 0.5) })
        let text = PrometheusExposition.render([.init(node: "app@127.0.0.1", family: "Erlang/OTP 25", values: MetricValues(values))])
        try await Promtool.expectOnlyAllowedNames(in: text)
        let names = MetricCatalog.builtIn.map { PrometheusExposition.prometheusName($0).0 }
        #expect(Set(names).count == names.count)
        #expect(text.components(separatedBy: "# TYPE ").count - 1 == MetricCatalog.builtIn.count)
    }

    @Test("Folsom and Exometer metrics, with names as odd as a node may give them, pass promtool beside the built-ins")
    func libraries() async throws {
        // As the agent names them: the library's prefix, the metric's own name (any text: Folsom
        // takes binaries and terms, Exometer lists of atoms), the data point.
        let library: [String: Double] = [
            "folsom.latency.p99": 99, "folsom.web.hits.one": 3, "folsom.{db,\"query\"}.mean": 2.5,
            "folsom.back\\slash.count": 1, "folsom.line\nbreak.count": 2, "folsom.überlauf.count": 4,
            "exometer.db.pool.checkouts.value": 7, "exometer.http.[requests].mean": 12.25, "exometer.<0.42.0>.ms_since_reset": 1e12,
            "exometer.q.p999": -3, "exometer.nan.value": .nan, "exometer.inf.value": .infinity,
        ]
        let builtIn = ["memory_total": 1e8, "reductions": 5e6, "runtime_ms": 1234]
        let series: [PrometheusExposition.Series] = [
            .init(node: "app@127.0.0.1", family: "app \"blue\"", values: MetricValues(library.merging(builtIn) { a, _ in a })),
            .init(node: "other@127.0.0.1", family: "app", values: ["folsom.latency.p99": 120, "exometer.q.p999": 8]),
        ]
        let text = PrometheusExposition.render(series)
        let (problems, status) = try await Promtool.lint(text)
        #expect(problems.isEmpty && status == 0, "promtool: \(problems)\n\(text)")
        #expect(text.contains("# TYPE folsom_metric gauge") && text.contains("# TYPE exometer_metric gauge"))
        #expect(text.contains(#"folsom_metric{node="app@127.0.0.1",family="app \"blue\"",metric="line\nbreak.count"} 2"#), "\(text)")
        #expect(text.contains(#"exometer_metric{node="app@127.0.0.1",family="app \"blue\"",metric="inf.value"} +Inf"#))
        // One sample per library metric per node: 6 + 1 Folsom, 6 + 1 Exometer.
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("folsom_metric{") }.count == 7)
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("exometer_metric{") }.count == 7)
    }
}
