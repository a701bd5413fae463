import Foundation
import HummingbirdTesting
import NumbatServices
import NumbatTestSupport
import Testing

/// Stored metric history and Graphite, end to end with real OTP nodes and a real carbon-cache.
@Suite("metric history with real nodes")
struct MetricHistoryTests {
    static func series(_ client: any TestClientProtocol, _ server: TestServer, _ path: String) async throws -> [[String: Any]] {
        try await client.call(.get, path, token: server.adminToken)["series"] as? [[String: Any]] ?? []
    }

    @Test("collections are stored and served as series, per node and per family, and survive a restart", arguments: OTPRelease.installed)
    func series(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let server = try await TestServer(directory: directory, metricsInterval: 1)
            let (id, kept) = try await server.server.makeApplication().test(.router) { client -> (String, [Double]) in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let path = "/api/metrics/nodes/\(id)/series?metrics=memory_total,process_count&from=10m"
                var points: [[String: Any]] = []
                let collected = try await eventually(within: .seconds(15)) {
                    let series = try await Self.series(client, server, path)
                    points = series.first?["points"] as? [[String: Any]] ?? []
                    return points.count >= 3 && series.count == 2
                }
                #expect(collected, "\(points)")
                let values = points.compactMap { $0["v"] as? Double }
                #expect(values.allSatisfy { $0 > 1_000_000 }, "memory_total: \(values)")
                let times = points.compactMap { ($0["t"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) } }
                #expect(times == times.sorted() && Set(times).count == times.count)

                let node = try await client.call(.get, "/api/topo/nodes/\(id)", token: server.adminToken)
                let family = try #require(node["family_id"] as? String)
                let stacked = try await Self.series(client, server, "/api/metrics/families/\(family)/series?metric=memory_total&from=10m")
                #expect(stacked.count == 1)
                #expect(stacked.first?["node"] as? String == id)
                #expect(stacked.first?["node_name"] as? String == peer.name.description)
                #expect((stacked.first?["points"] as? [Any])?.isEmpty == false)

                // Bad requests are refused with a reason.
                for (query, code) in [("", "invalid_metrics"), ("metrics=memory_total&from=1h&to=2h", "invalid_range"),
                                      ("metrics=memory_total&step=often", "invalid_step"), ("metrics=memory_total&from=yesterday", "invalid_time")] {
                    let answer = try await client.call(.get, "/api/metrics/nodes/\(id)/series?\(query)", token: server.adminToken)
                    #expect(answer.status == .badRequest && answer.errorCode == code, "\(query): \(answer.text)")
                }
                let unknown = try await client.call(.get, "/api/metrics/nodes/\(UUID())/series?metrics=memory_total", token: server.adminToken)
                #expect(unknown.status == .notFound)
                return (id, values)
            }
            await server.stop()

            // A new server on the same data directory still has the points.
            let again = try await TestServer(directory: directory, metricsInterval: 3600)
            try await again.server.makeApplication().test(.router) { client in
                let series = try await Self.series(client, again, "/api/metrics/nodes/\(id)/series?metrics=memory_total&from=10m")
                let values = (series.first?["points"] as? [[String: Any]] ?? []).compactMap { $0["v"] as? Double }
                #expect(Array(values.prefix(kept.count)) == kept)
            }
            await again.stop()
        }
    }

    @Test("metrics are pushed to a real Graphite carbon-cache", .enabled(if: CarbonServer.isInstalled))
    func graphite() async throws {
        try await CarbonServer.with { carbon in
            try await TestNode.with(release: .otp25) { peer in
                try await TestServer.with(metricsInterval: 1, configure: { configuration in
                    configuration.graphiteHost = "127.0.0.1"
                    configuration.graphitePort = carbon.linePort
                    configuration.graphitePrefix = "numbat_test"
                    configuration.graphiteIntervalSeconds = 1
                }) { server, client in
                    _ = try await MetricsTests.add(peer, to: server, client: client)
                    let path = "numbat_test." + GraphitePusher.pathSafe(peer.name.description) + ".memory_total"
                    var points: [Double] = []
                    let arrived = try await eventually(within: .seconds(20)) {
                        points = try await carbon.points(path)
                        return !points.isEmpty
                    }
                    #expect(arrived, "carbon never wrote \(path)")
                    #expect(points.allSatisfy { $0 > 1_000_000 }, "\(points)")
                }
            }
        }
    }
}
