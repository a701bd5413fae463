import Foundation
import NumbatAPI
import NumbatCore
@testable import NumbatServices
import Testing

/// The metrics answers' NumbatAPI types keep the wire shape the dashboard reads (absent, not
/// null, for what is unknown), and the thresholds' typed partial update merges as before.
@Suite("metrics API types and the thresholds update")
struct MetricsAPITypesTests {
    static func text(_ value: some Encodable) throws -> String {
        String(decoding: try APICoding.encoder().encode(value), as: UTF8.self)
    }

    @Test("a node not collected yet: no source, no collected_at, readings without values")
    func emptyNodeMetrics() throws {
        let id = UUID(uuidString: "00000000-0000-0000-0000-000000000001")!
        let answer = NodeMetricsResponse(node: id, source: nil, collectedAt: nil, intervalSeconds: 5,
                                         metrics: [.init(name: "run_queue", unit: "", kind: "gauge", group: "schedulers", description: "d", value: nil)],
                                         details: [:], histograms: [:])
        #expect(try Self.text(answer) == #"{"details":{},"histograms":{},"interval_seconds":5,"metrics":[{"description":"d","group":"schedulers","kind":"gauge","name":"run_queue","unit":""}],"node":"00000000-0000-0000-0000-000000000001"}"#)
        #expect(try APICoding.decoder().decode(NodeMetricsResponse.self, from: APICoding.encoder().encode(answer)) == answer)
    }

    @Test("series parts and points decode as the server writes them; live frames keep their type")
    func seriesAndLive() throws {
        let json = #"{"from":"2026-01-01T12:00:00Z","to":"2026-01-01T13:00:00Z","resolution_seconds":300,"parts":[{"from":"2026-01-01T12:00:00Z","to":"2026-01-01T12:05:00Z","resolution_seconds":300},{"from":"2026-01-01T12:05:00Z","to":"2026-01-01T13:00:00Z","resolution_seconds":0}],"series":[{"node":"00000000-0000-0000-0000-000000000001","node_name":"a@h","metric":"run_queue","points":[{"t":"2026-01-01T12:00:00.000Z","v":1,"min":0,"max":2}]}]}"#
        let series = try APICoding.decoder().decode(MetricSeriesResponse.self, from: Data(json.utf8))
        #expect(series.parts.map(\.resolutionSeconds) == [300, 0] && series.stepSeconds == nil)
        #expect(series.series.first?.unit == nil && series.series.first?.points.first?.min == 0)
        let sample = LiveMetricsSample(node: UUID(uuidString: "00000000-0000-0000-0000-000000000001")!,
                                       t: Date(timeIntervalSince1970: 0), values: ["run_queue": 1], error: nil)
        #expect(try Self.text(sample) == #"{"node":"00000000-0000-0000-0000-000000000001","t":"1970-01-01T00:00:00Z","type":"live","values":{"run_queue":1}}"#)
    }

    /// A point's time is its stored millisecond, rounded: a `Date` holds .457 as .45699999, which
    /// ISO 8601 formatting truncated to .456 (found by the remote-write tests comparing times).
    @Test("a point's time prints its millisecond exactly")
    func pointMilliseconds() {
        for millis: Int64 in [1_733_333_333_457, 1_733_333_333_000, 1_733_333_333_999, 1_733_333_333_001, 0, 999] {
            let point = MetricPoint(time: Date(timeIntervalSince1970: Double(millis) / 1000), value: 1, minimum: nil, maximum: nil)
            let text = MetricSeriesResponse.Point(point).t
            let parsed = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            #expect(parsed.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } == millis, "\(millis) printed as \(text)")
        }
        #expect(MetricSeriesResponse.Point.millisecondText(Date(timeIntervalSince1970: 1_733_333_333.457)) == "2024-12-04T17:28:53.457Z")
    }

    @Test("a typed thresholds update: null turns a check off, absent keeps it, unknown and wrong shapes are refused")
    func thresholdsUpdate() throws {
        let update = try JSONDecoder().decode(AlarmThresholds.Update.self, from: Data(#"{"ports": null, "interval_seconds": 3}"#.utf8))
        let updated = try AlarmThresholds().updated(with: update)
        #expect(updated.ports == nil && updated.intervalSeconds == 3 && updated.atoms == AlarmThresholds().atoms)
        for bad in [#"{"port": null}"#, #"{"atoms": "high"}"#, #"{"atoms": {"minor": 0.9, "major": 0.1}}"#] {
            let update = try JSONDecoder().decode(AlarmThresholds.Update.self, from: Data(bad.utf8))
            #expect(throws: NumbatError.self, "\(bad)") { try AlarmThresholds().updated(with: update) }
        }
    }
}
