import Foundation
import Hummingbird
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
                let collected = try await eventually(within: .seconds(60)) {
                    let series = try await Self.series(client, server, path)
                    points = series.first?["points"] as? [[String: Any]] ?? []
                    return points.count >= 3 && series.count == 2
                }
                #expect(collected, "\(points)")
                let values = points.compactMap { $0["v"] as? Double }
                #expect(values.allSatisfy { $0 > 1_000_000 }, "memory_total: \(values)")
                let times = points.compactMap { ($0["t"] as? String).flatMap { try? Date($0, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) } }
                #expect(times.count == points.count)
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

    @Test("metrics are pushed to a real Graphite carbon-cache", .requires(.carbon))
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

/// Live metrics over the WebSocket: sampled every second only while someone watches.
@Suite("live metrics with real nodes")
struct LiveMetricsTests {
    @Test("a viewer gets the chosen metrics every second; sampling stops after the last viewer leaves", arguments: OTPRelease.installed)
    func live(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            try await TestServer.with(.live, metricsInterval: 3600) { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                _ = try await MetricsTests.metrics(id, server: server, client: client)
                #expect(server.server.metrics.liveSamplingCount == 0, "nothing is sampled while nobody watches")
                let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
                try await client.ws("/api/metrics/live?node=\(id)&metrics=memory_total,process_count&token=\(server.adminToken)") { inbound, outbound, _ in
                    let watchdog = Task {
                        try await Task.sleep(for: .seconds(20))
                        try await outbound.close(.goingAway, reason: "test timed out")
                    }
                    defer { watchdog.cancel() }
                    var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    var times: [Date] = []
                    for _ in 0..<3 {
                        let message = try #require(try await LifecycleTests.next(&messages))
                        #expect(message["type"] as? String == "live")
                        #expect(message["node"] as? String == id)
                        let values = message["values"] as? [String: Double] ?? [:]
                        #expect(Set(values.keys) == ["memory_total", "process_count"], "\(message)")
                        times += [(message["t"] as? String).flatMap { try? Date($0, strategy: formatter) }].compactMap { $0 }
                    }
                    #expect(times.count == 3)
                    // Every second on average: a slow collection delays one sample, and the next
                    // one catches up (the sampler keeps to its schedule).
                    #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "\(times)")
                    if let first = times.first, let last = times.last {
                        let average = last.timeIntervalSince(first) / Double(times.count - 1)
                        // The live sampler's cadence, not the 60 s collection's: a bound wide enough
                        // for a loaded machine, far below the collection interval.
                        #expect(average > 0.5 && average < 10, "samples \(average) s apart on average")
                    }
                    #expect(server.server.metrics.liveSamplingCount == 1)
                    try await outbound.write(.text(json(["metrics": ["atom_count"]])))
                    let changed = try await LifecycleTests.next(&messages) { ($0["values"] as? [String: Double])?.keys.contains("atom_count") == true }
                    #expect((changed?["values"] as? [String: Double]).map { Array($0.keys) } == ["atom_count"])
                    try await outbound.close(.normalClosure, reason: nil)
                }
                let stopped = await eventually(within: .seconds(60)) { server.server.metrics.liveSamplingCount == 0 }
                #expect(stopped, "the sampler stops after the last viewer leaves")
                // An unknown node or a missing one is refused before the upgrade.
                for (query, status) in [("node=\(UUID())", HTTPResponse.Status.notFound), ("node=not-a-uuid", .badRequest), ("", .badRequest)] {
                    let refused = try await client.execute(uri: "/api/metrics/live?\(query)", method: .get,
                                                           headers: [.authorization: "Bearer \(server.adminToken)"]) { $0.status }
                    #expect(refused == status, "\(query): \(refused)")
                }
            }
        }
    }
}

/// Folsom metrics (Debian's erlang-folsom) collected automatically when folsom runs.
@Suite("folsom metrics with a real node")
struct FolsomMetricsTests {
    @Test("counters, meters, spirals and histograms with their derived fields (OTP 25 only: the OTP 28 runtime here has no folsom)",
          .requires(.folsom, .promtool))
    func folsom() async throws {
        try await TestNode.with(release: .otp25) { peer in
            let observer = try Observer(cookie: peer.cookie)
            let setup = """
                {ok, _} = application:ensure_all_started(folsom),
                ok = folsom_metrics:new_histogram(latency),
                [ok = folsom_metrics:notify({latency, X}) || X <- lists:seq(1, 100)],
                ok = folsom_metrics:new_counter(requests),
                ok = folsom_metrics:notify({requests, {inc, 5}}),
                ok = folsom_metrics:new_spiral(<<"web.hits">>),
                ok = folsom_metrics:notify({<<"web.hits">>, 3}),
                ok = folsom_metrics:new_meter(jobs),
                ok = folsom_metrics:notify({jobs, 4}),
                ok.
                """
            #expect(try await observer.local.rpc(peer.name, "numbat_test_peer", "eval", [.binary(Array(setup.utf8))]) == .atom("ok"))
            await observer.shutdown()
            try await TestServer.with(metricsInterval: 1) { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let metrics = try await MetricsTests.metrics(id, server: server, client: client)
                let values = MetricsTests.values(metrics)
                #expect(values["folsom.requests"] == 5)
                #expect(values["folsom.web.hits.count"] == 3 && values["folsom.web.hits.one"] == 3)
                #expect(values["folsom.jobs.count"] == 4)
                #expect(values["folsom.latency.n"] == 100)
                #expect(values["folsom.latency.min"] == 1 && values["folsom.latency.max"] == 100)
                #expect(values["folsom.latency.mean"] == 50.5 && values["folsom.latency.median"] == 50)
                #expect(values["folsom.latency.p99"] == 99 && values["folsom.latency.p999"] == 100)
                let groups = (metrics["metrics"] as? [[String: Any]] ?? []).filter { ($0["name"] as? String)?.hasPrefix("folsom.") == true }
                #expect(groups.allSatisfy { $0["group"] as? String == "folsom" })
                let buckets = (metrics["histograms"] as? [String: [[String: Double]]])?["folsom.latency"] ?? []
                #expect(buckets.compactMap { $0["count"] }.reduce(0, +) == 100, "\(buckets)")

                // Stored like the built-in metrics, and exported to Prometheus with the name as a label.
                let stored = try await eventually(within: .seconds(30)) {
                    let series = try await MetricHistoryTests.series(client, server, "/api/metrics/nodes/\(id)/series?metrics=folsom.requests&from=10m")
                    return (series.first?["points"] as? [[String: Any]])?.first?["v"] as? Double == 5
                }
                #expect(stored)
                let text = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(server.adminToken)"]) { String(buffer: $0.body) }
                #expect(text.contains("# TYPE folsom_metric gauge"))
                #expect(text.contains("folsom_metric{node=\"\(peer.name)\",family=\"Erlang/OTP 25\",metric=\"latency.p99\"} 99"), "\(text.suffix(600))")
                // The export with Folsom's metrics in it still passes Prometheus's linter.
                try await Promtool.expectOnlyAllowedNames(in: text)
            }
        }
    }
}
