import Foundation
import HummingbirdTesting
import NumbatServer
import NumbatServices
import NumbatTestSupport
import Testing

/// Prometheus remote write end to end: a real OTP node managed by a test server, whose
/// collections go to a real VictoriaMetrics and a real Prometheus, read back through their
/// PromQL APIs and compared with Numbat's own history of the same metric at the same times.
@Suite("remote write with real receivers")
struct RemoteWriteTests {
    /// A receiver with short waits, so a test sees batches and retries within seconds.
    static func receiver(_ url: String, capacity: Int = 100_000, batchSize: Int = 2_000,
                         authentication: RemoteWriteSettings.Authentication = .none) -> RemoteWriteSettings
    {
        RemoteWriteSettings(url: URL(string: url)!, authentication: authentication,
                            queue: .init(capacity: capacity, batchSize: batchSize, batchDelay: .milliseconds(200),
                                         minBackoff: .milliseconds(200), maxBackoff: .seconds(2)),
                            timeout: .seconds(10))
    }

    /// Numbat's own raw points of a metric on a node: (milliseconds, value).
    static func ownPoints(_ metric: String, node id: String, server: TestServer, client: any TestClientProtocol) async throws -> [(Int64, Double)] {
        let series = try await MetricHistoryTests.series(client, server, "/api/metrics/nodes/\(id)/series?metrics=\(metric)&from=10m")
        let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return (series.first?["points"] as? [[String: Any]] ?? []).compactMap { point in
            guard let time = (point["t"] as? String).flatMap({ try? Date($0, strategy: formatter) }), let value = point["v"] as? Double else { return nil }
            return (Int64((time.timeIntervalSince1970 * 1000).rounded()), value)
        }
    }

    static func status(_ server: TestServer, _ client: any TestClientProtocol) async throws -> [[String: Any]] {
        let answer = try await client.call(.get, "/api/metrics/remote-write", token: server.adminToken)
        #expect(answer.status == .ok, "\(answer.text)")
        // The documented fields, no more and no fewer.
        try OpenAPITests.expect(answer.object, matches: "RemoteWriteStatus")
        let receivers = answer["receivers"] as? [[String: Any]] ?? []
        for receiver in receivers { try OpenAPITests.expect(receiver, matches: "RemoteWriteReceiver") }
        return receivers
    }

    static func exposition(_ server: TestServer, _ client: any TestClientProtocol) async throws -> String {
        try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(server.adminToken)"]) { String(buffer: $0.body) }
    }

    /// Waits until `receiver` holds, for `metric` on the node, every one of `points` (at least
    /// `atLeast` of Numbat's points when `points` is nil), with Numbat's value (divided by
    /// `divisor` for the Prometheus name's unit) at the same millisecond.
    static func expectSame(_ metric: String, as name: String, divisor: Double = 1, node: TestNode, id: String, points: [(Int64, Double)]? = nil,
                           atLeast: Int = 3, in receiver: RemoteWriteReceiver, authorization: String? = nil,
                           server: TestServer, client: any TestClientProtocol) async throws -> RemoteWriteReceiver.Series?
    {
        var last = "nothing yet"
        var found: RemoteWriteReceiver.Series?
        let same = try await eventually(within: .seconds(90)) {
            var own = points ?? []
            if points == nil { own = try await ownPoints(metric, node: id, server: server, client: client) }
            let theirs = try await receiver.rawSamples("\(name){node=\"\(node.name)\"}[10m]", authorization: authorization)
            guard theirs.count == 1, let series = theirs.first else {
                last = "\(theirs.count) series"
                return false
            }
            found = series
            let stored = Dictionary(series.samples.map { ($0.timestamp, $0.value) }, uniquingKeysWith: { first, _ in first })
            // Numbat's API prints times truncated to the millisecond (from a Double), the sample
            // carries the stored, rounded millisecond: the same time may read 1 ms apart.
            let match = { (time: Int64) in stored[time] ?? stored[time + 1] }
            let common = own.filter { match($0.0) != nil }
            let differing = common.filter { match($0.0) != $0.1 / divisor }
            last = "Numbat \(own.count) points, \(receiver.kind.rawValue) \(series.samples.count), in both \(common.count), differing \(differing.map { "\($0.0): \($0.1 / divisor) vs \(match($0.0)!)" }); Numbat's times \(own.map(\.0).prefix(20)), theirs \(series.samples.map(\.timestamp).prefix(20))"
            if let points { return common.count == points.count && differing.isEmpty }
            return common.count >= atLeast && differing.isEmpty
        }
        #expect(same, "\(name) in \(receiver.kind.rawValue): \(last)")
        return found
    }

    @Test("every collection lands in a real VictoriaMetrics and a real Prometheus, equal to Numbat's own history at the same times",
          .requires(.victoriaMetrics, .prometheus))
    func receivers() async throws {
        try await RemoteWriteReceiver.with(.victoriaMetrics) { victoria in
            try await RemoteWriteReceiver.with(.prometheus) { prometheus in
                try await TestNode.with(release: .otp25) { peer in
                    try await TestServer.with(metricsInterval: 1, configure: { configuration in
                        configuration.remoteWrite = [Self.receiver(victoria.writeURL), Self.receiver(prometheus.writeURL)]
                    }) { server, client in
                        let id = try await MetricsTests.add(peer, to: server, client: client)
                        for receiver in [victoria, prometheus] {
                            let memory = try await Self.expectSame("memory_total", as: "erlang_memory_total_bytes", node: peer, id: id,
                                                                   in: receiver, server: server, client: client)
                            #expect(memory?.labels["family"] == "Erlang/OTP 25", "\(memory?.labels ?? [:])")
                            #expect(memory?.labels["node"] == peer.name.description)
                            // A counter, renamed and scaled to base units as the /metrics export does.
                            _ = try await Self.expectSame("runtime_ms", as: "erlang_runtime_seconds_total", divisor: 1000, node: peer, id: id,
                                                          in: receiver, server: server, client: client)
                            _ = try await Self.expectSame("process_count", as: "erlang_vm_process_count", node: peer, id: id,
                                                          in: receiver, server: server, client: client)
                        }
                        let receivers = try await Self.status(server, client)
                        #expect(receivers.compactMap { $0["url"] as? String } == [victoria.writeURL, prometheus.writeURL])
                        for receiver in receivers {
                            #expect((receiver["sent_samples"] as? Int ?? 0) > 0, "\(receiver)")
                            #expect(receiver["failed_batches"] as? Int == 0 && receiver["dropped_samples"] as? Int == 0, "\(receiver)")
                            #expect(receiver["authentication"] as? String == "none")
                        }
                        let text = try await Self.exposition(server, client)
                        #expect(text.contains("# TYPE numbat_remote_write_samples_sent_total counter"))
                        #expect(text.contains("numbat_remote_write_samples_dropped_total{receiver=\"\(prometheus.writeURL)\"} 0"), "\(text.suffix(1500))")
                        // The export with the remote-write counters still passes Prometheus's linter.
                        if try Requirement.promtool.check() { try await Promtool.expectOnlyAllowedNames(in: text) }
                    }
                }
            }
        }
    }

    @Test("a receiver that is down: samples wait in the queue and arrive when it is back; beyond the bound the oldest are dropped and counted",
          .requires(.victoriaMetrics))
    func outage() async throws {
        let roomy = try freePort(onAll: ["127.0.0.1"])
        var other = try freePort(onAll: ["127.0.0.1"])
        while other == roomy { other = try freePort(onAll: ["127.0.0.1"]) }
        let small = other
        let roomyURL = "http://127.0.0.1:\(roomy)/api/v1/write", smallURL = "http://127.0.0.1:\(small)/api/v1/write"
        try await TestNode.with(release: .otp25) { peer in
            // One receiver with room for the whole outage, one with room for about two collections.
            try await TestServer.with(metricsInterval: 1, configure: { configuration in
                configuration.remoteWrite = [Self.receiver(roomyURL), Self.receiver(smallURL, capacity: 300, batchSize: 100)]
            }) { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                var receivers: [[String: Any]] = []
                let queued = try await eventually(within: .seconds(90)) {
                    receivers = try await Self.status(server, client)
                    return receivers.count == 2 && (receivers[0]["failed_batches"] as? Int ?? 0) >= 3
                        && (receivers[1]["dropped_samples"] as? Int ?? 0) >= 1000
                }
                #expect(queued, "\(receivers)")
                // Nothing delivered, nothing lost from the roomy queue; the small one stays within its bound.
                #expect(receivers[0]["sent_samples"] as? Int == 0 && receivers[0]["dropped_samples"] as? Int == 0, "\(receivers[0])")
                #expect((receivers[0]["queued_samples"] as? Int ?? 0) > 0)
                #expect((receivers[0]["last_error"] as? String)?.contains("cannot reach") == true, "\(receivers[0])")
                #expect((receivers[1]["queued_samples"] as? Int ?? .max) <= 300, "\(receivers[1])")
                let dropped = try #require(receivers[1]["dropped_samples"] as? Int)
                let text = try await Self.exposition(server, client)
                let line = text.split(separator: "\n").first { $0.hasPrefix("numbat_remote_write_samples_dropped_total{receiver=\"\(smallURL)\"}") }
                #expect((line?.split(separator: " ").last).flatMap { Int($0) }.map { $0 >= dropped } == true, "\(line ?? "no line")")
                // Collected while both were down.
                let early = try await Self.ownPoints("memory_total", node: id, server: server, client: client)
                #expect(early.count >= 3, "\(early)")

                try await RemoteWriteReceiver.with(.victoriaMetrics, port: roomy) { victoria in
                    try await RemoteWriteReceiver.with(.victoriaMetrics, port: small) { smallVictoria in
                        // Every point collected during the outage arrives, with its value and time.
                        _ = try await Self.expectSame("memory_total", as: "erlang_memory_total_bytes", node: peer, id: id, points: early,
                                                      in: victoria, server: server, client: client)
                        // The small receiver gets the newer collections; the first ones were dropped.
                        let newer = try await Self.expectSame("memory_total", as: "erlang_memory_total_bytes", node: peer, id: id, atLeast: 1,
                                                              in: smallVictoria, server: server, client: client)
                        let delivered = Set(newer?.samples.map(\.timestamp) ?? [])
                        #expect(!delivered.contains(early[0].0) && !delivered.contains(early[0].0 + 1), "the oldest collection was dropped from the small queue")
                        let after = try await Self.status(server, client)
                        #expect(after.first?["dropped_samples"] as? Int == 0, "\(after)")
                        #expect((after.first?["sent_samples"] as? Int ?? 0) > 0)
                    }
                }
            }
        }
    }

    @Test("basic auth: the right credentials are sent; a 401 drops the batch without retrying; no credential is ever shown",
          .requires(.victoriaMetrics))
    func authentication() async throws {
        try await RemoteWriteReceiver.with(.victoriaMetrics, basicAuth: ("numbat", "correct-horse")) { victoria in
            try await TestNode.with(release: .otp25) { peer in
                try await TestServer.with(metricsInterval: 1, configure: { configuration in
                    configuration.remoteWrite = [
                        Self.receiver(victoria.writeURL, authentication: .basic(username: "numbat", password: RemoteWriteSecret("correct-horse"))),
                        Self.receiver(victoria.writeURL + "?wrong", authentication: .basic(username: "numbat", password: RemoteWriteSecret("battery-staple"))),
                    ]
                }) { server, client in
                    let id = try await MetricsTests.add(peer, to: server, client: client)
                    let authorization = "Basic " + Data("numbat:correct-horse".utf8).base64EncodedString()
                    _ = try await Self.expectSame("memory_total", as: "erlang_memory_total_bytes", node: peer, id: id, in: victoria,
                                                  authorization: authorization, server: server, client: client)
                    var receivers: [[String: Any]] = []
                    let refused = try await eventually(within: .seconds(60)) {
                        receivers = try await Self.status(server, client)
                        return (receivers.last?["rejected_samples"] as? Int ?? 0) > 0 && (receivers.last?["failed_batches"] as? Int ?? 0) >= 2
                    }
                    #expect(refused, "\(receivers)")
                    let wrong = receivers[1]
                    #expect(wrong["sent_samples"] as? Int == 0 && wrong["dropped_samples"] as? Int == 0, "\(wrong)")
                    #expect((wrong["last_error"] as? String)?.hasPrefix("HTTP 401") == true, "\(wrong)")
                    // Not retried: a refused batch leaves the queue at once, so it never backs off.
                    #expect(wrong["retry_in_seconds"] == nil, "\(wrong)")
                    #expect(receivers.map { $0["authentication"] as? String } == ["basic", "basic"])
                    // The URL is shown without its query; no secret anywhere.
                    #expect(wrong["url"] as? String == victoria.writeURL)
                    let shown = try await client.call(.get, "/api/metrics/remote-write", token: server.adminToken).text + (try await Self.exposition(server, client))
                    for secret in ["correct-horse", "battery-staple", Data("numbat:correct-horse".utf8).base64EncodedString()] {
                        #expect(!shown.contains(secret))
                    }
                }
            }
        }
    }

    @Test("bearer token: the right token passes vmauth into VictoriaMetrics; a wrong one is refused (4xx) and not retried",
          .requires(.victoriaMetrics))
    func bearer() async throws {
        let token = "token-\(UUID().uuidString)"
        try await RemoteWriteReceiver.with(.victoriaMetrics) { victoria in
            try await RemoteWriteReceiver.withBearerProxy(token: token, upstream: victoria) { proxy in
                try await TestNode.with(release: .otp25) { peer in
                    try await TestServer.with(metricsInterval: 1, configure: { configuration in
                        configuration.remoteWrite = [Self.receiver(proxy.writeURL, authentication: .bearer(RemoteWriteSecret(token))),
                                                     Self.receiver(proxy.writeURL, authentication: .bearer(RemoteWriteSecret("not-" + token)))]
                    }) { server, client in
                        let id = try await MetricsTests.add(peer, to: server, client: client)
                        // Read from VictoriaMetrics itself: what passed the proxy.
                        _ = try await Self.expectSame("memory_total", as: "erlang_memory_total_bytes", node: peer, id: id, in: victoria,
                                                      server: server, client: client)
                        var receivers: [[String: Any]] = []
                        let refused = try await eventually(within: .seconds(60)) {
                            receivers = try await Self.status(server, client)
                            return (receivers.last?["rejected_samples"] as? Int ?? 0) > 0
                        }
                        #expect(refused, "\(receivers)")
                        #expect(receivers.map { $0["authentication"] as? String } == ["bearer", "bearer"])
                        #expect(receivers.last?["sent_samples"] as? Int == 0 && receivers.last?["retry_in_seconds"] == nil, "\(receivers)")
                        #expect((receivers.first?["sent_samples"] as? Int ?? 0) > 0 && receivers.first?["failed_batches"] as? Int == 0, "\(receivers)")
                        let shown = try await client.call(.get, "/api/metrics/remote-write", token: server.adminToken).text + (try await Self.exposition(server, client))
                        #expect(!shown.contains(token))
                    }
                }
            }
        }
    }

    @Test("stopping the server sends what is queued while the receiver takes it", .requires(.victoriaMetrics))
    func drainOnStop() async throws {
        try await RemoteWriteReceiver.with(.victoriaMetrics) { victoria in
            try await TestNode.with(release: .otp25) { peer in
                // A batch delay of an hour: nothing leaves before the server stops.
                var settings = Self.receiver(victoria.writeURL)
                settings.queue.batchDelay = .seconds(3600)
                let queued = try await TestServer.with(metricsInterval: 1, configure: { $0.remoteWrite = [settings] }) { server, client -> Int in
                    _ = try await MetricsTests.add(peer, to: server, client: client)
                    var receivers: [[String: Any]] = []
                    let waiting = try await eventually(within: .seconds(60)) {
                        receivers = try await Self.status(server, client)
                        return (receivers.first?["queued_samples"] as? Int ?? 0) >= 200
                    }
                    #expect(waiting && receivers.first?["sent_samples"] as? Int == 0, "\(receivers)")
                    return receivers.first?["queued_samples"] as? Int ?? 0
                }
                // The server has stopped: what was queued reaches VictoriaMetrics (searchable
                // within a second or so of its arrival).
                var series: [RemoteWriteReceiver.Series] = []
                let arrived = try await eventually(within: .seconds(30)) {
                    series = try await victoria.rawSamples("erlang_memory_total_bytes{node=\"\(peer.name)\"}[10m]")
                    return (series.first?.samples.count ?? 0) >= 2
                }
                #expect(arrived, "\(queued) queued; \(series.map(\.samples.count))")
            }
        }
    }
}
