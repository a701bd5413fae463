import Foundation
import NumbatAPI
import NumbatCore
import NumbatServices
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
