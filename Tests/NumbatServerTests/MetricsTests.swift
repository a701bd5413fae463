import ErlangDist
import ErlangTerm
import Foundation
import HummingbirdTesting
import NumbatCore
import NumbatServices
import NumbatTestSupport
import Testing

/// The metrics service against real OTP nodes: the injected agent, the catalogue, exports.
@Suite("metrics with real nodes")
struct MetricsTests {
    /// Adds `peer` and returns its id.
    static func add(_ peer: TestNode, to server: TestServer, client: any TestClientProtocol) async throws -> String {
        let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": peer.name.description, "cookie": peer.cookie]), token: server.adminToken)
        return try #require((added["node"] as? [String: Any])?["id"] as? String)
    }

    /// The node's metrics once a collection newer than `after` has arrived.
    static func metrics(_ id: String, after: Date = .distantPast, server: TestServer, client: any TestClientProtocol) async throws -> [String: Any] {
        var latest: [String: Any] = [:]
        let arrived = try await eventually(within: .seconds(60)) {
            latest = try await client.call(.get, "/api/metrics/nodes/\(id)", token: server.adminToken).object
            guard let text = latest["collected_at"] as? String, let time = ISO8601DateFormatter().date(from: text) else { return false }
            return time > after
        }
        #expect(arrived, "no collection arrived")
        return latest
    }

    static func values(_ metrics: [String: Any]) -> [String: Double] {
        var values: [String: Double] = [:]
        for entry in metrics["metrics"] as? [[String: Any]] ?? [] {
            if let name = entry["name"] as? String, let value = entry["value"] as? Double { values[name] = value }
        }
        return values
    }

    /// The metrics a node has without os_mon and mnesia: here (Linux) the machine's from /proc.
    static let plainNodeMetrics = MetricCatalog.builtIn.filter { $0.requires?.isMet(applications: [], linux: isLinux) ?? true }
    #if os(Linux)
    static let isLinux = true
    #else
    static let isLinux = false
    #endif

    @Test("a plain node (no os_mon, no mnesia) has every metric that applies, at least 90, with sane values; memory matches the node's own; processes grow",
          arguments: OTPRelease.installed)
    func catalogue(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            let observer = try Observer(cookie: peer.cookie)
            try await TestServer.with(metricsInterval: 1) { server, client in
                let id = try await Self.add(peer, to: server, client: client)
                let first = try await Self.metrics(id, server: server, client: client)
                #expect(first["source"] as? String == "agent")
                let values = Self.values(first)
                let expected = Self.plainNodeMetrics.map(\.name)
                #expect(Set(expected).subtracting(values.keys).isEmpty, "missing: \(Set(expected).subtracting(values.keys).sorted())")
                #expect(MetricCatalog.builtIn.count >= 100)
                #expect(values.keys.filter { MetricCatalog.byName[$0] != nil }.count >= 90, "\(values.count) metrics")
                // Nothing reported that needs what the node does not run.
                let absent = MetricCatalog.builtIn.filter { !expected.contains($0.name) }.map(\.name)
                #expect(!absent.isEmpty && absent.allSatisfy { values[$0] == nil }, "\(absent.filter { values[$0] != nil })")
                try Self.expectSane(values, names: expected, release: release)

                let own = try #require(try await observer.local.rpc(peer.name, "erlang", "memory", [.atom("total")]).doubleValue)
                #expect(abs(values["memory_total"]! - own) / own < 0.10, "agent \(values["memory_total"]!) vs node \(own)")

                let before = values["process_count"]!
                _ = try await observer.local.rpc(peer.name, "numbat_test_peer", "spawn_sleepers", [10_000])
                // A collection in flight while the sleepers started may still show the old count:
                // wait for one that sees them. Numbat's other services run short-lived rpc
                // processes on the node too, so a handful counted before may be gone now.
                var later: Double = 0
                let grew = try await eventually(within: .seconds(60)) {
                    later = Self.values(try await client.call(.get, "/api/metrics/nodes/\(id)", token: server.adminToken).object)["process_count"] ?? 0
                    return later >= before + 10_000 - 20
                }
                #expect(grew, "\(before) -> \(later)")
            }
            await observer.shutdown()
        }
    }

    @Test("with os_mon and mnesia running every catalogued metric has a sane value, and promtool accepts the export but for prometheus.erl's names",
          .requires(.promtool))
    func catalogueWithOsMonAndMnesia() async throws {
        // OTP 25 only: the OTP 28 runtime here (PyPI's) has neither os_mon nor mnesia.
        try await TestNode.with(release: .otp25) { peer in
            let observer = try Observer(cookie: peer.cookie)
            let osMon = try await observer.local.rpc(peer.name, "application", "ensure_all_started", [.atom("os_mon")])
            #expect(osMon[element: 0] == .atom("ok"), "\(osMon.erlangDescription)")
            #expect(try await observer.local.rpc(peer.name, "mnesia", "start") == .atom("ok"))
            await observer.shutdown()
            try await TestServer.with(metricsInterval: 1) { server, client in
                let id = try await Self.add(peer, to: server, client: client)
                let values = Self.values(try await Self.metrics(id, server: server, client: client))
                let expected = MetricCatalog.builtIn.map(\.name)
                #expect(Set(expected).subtracting(values.keys).isEmpty, "missing: \(Set(expected).subtracting(values.keys).sorted())")
                try Self.expectSane(values, names: expected, release: .otp25)
                #expect((0...100).contains(values["os_disk_max_used_percent"]!))
                // os_mon's load averages, not /proc's: cpu_sup gives them in 1/256ths, /proc in hundredths.
                for load in ["os_load1", "os_load5", "os_load15"] {
                    let scaled = values[load]! * 256
                    #expect(scaled == scaled.rounded(), "\(load) = \(values[load]!) is not cpu_sup's")
                }

                let text = try await Self.prometheusText(server: server, client: client)
                #expect(text.contains("erlang_mnesia_transaction_commits_total{") && text.contains("erlang_os_disk_max_used_percent{"))
                try await Promtool.expectOnlyAllowedNames(in: text)
            }
        }
    }

    /// Values within their bounds, and consistent with each other and with what the test reads
    /// of the machine itself.
    static func expectSane(_ values: [String: Double], names: [String], release: OTPRelease) throws {
        for name in names { #expect(values[name].map { $0 >= 0 && $0.isFinite } == true, "\(name) = \(String(describing: values[name]))") }
        func value(_ name: String) throws -> Double { try #require(values[name], "\(name) missing") }
        #expect(try value("process_count") <= value("process_limit"))
        #expect((0...1).contains(try value("scheduler_utilization")))
        #expect(try value("otp_release") == Double(release.rawValue))
        #expect(try value("word_size") == Double(MemoryLayout<Int>.size))
        // Numbat is a hidden node connected over TCP: its link has carried bytes both ways.
        #expect(try value("dist_hidden_nodes") >= 1 && value("dist_sent_bytes") > 0 && value("dist_received_bytes") > 0)
        #expect(try value("dist_busy_peers") == 0)
        #expect(try value("allocator_blocks_bytes") <= value("allocator_carriers_bytes"))
        #expect(try value("allocator_carriers_bytes") == value("allocator_mbcs_carriers_bytes") + value("allocator_sbcs_carriers_bytes"))
        let perAllocator = values.filter { $0.key.hasPrefix("allocator_") && $0.key.hasSuffix("_carriers_bytes") && !$0.key.contains("bcs_") && $0.key != "allocator_carriers_bytes" }
        let carriers = try value("allocator_carriers_bytes")
        #expect(perAllocator.count == 10 && perAllocator.values.reduce(0, +) <= carriers, "\(perAllocator) of \(carriers)")
        #expect((0...1).contains(try value("allocator_usage")))
        guard isLinux else { return }
        // The machine's memory as this test reads it (MemTotal does not change while it runs).
        let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        let total = try #require(meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }?.split(separator: " ").dropFirst().first.flatMap { Double($0) })
        #expect(try value("os_memory_total") == total * 1024)
        #expect(try value("os_memory_free") <= value("os_memory_total") && value("os_memory_available") <= value("os_memory_total"))
        for share in ["os_cpu_utilization", "os_cpu_iowait", "os_cpu_steal"] { #expect((0...100).contains(try value(share)), "\(share)") }
        #expect(try value("os_process_resident_memory") > 0 && value("os_process_resident_memory") <= value("os_process_resident_memory_peak"))
        #expect(try value("os_process_resident_memory") <= value("os_process_virtual_memory"))
        #expect(try value("os_process_threads") >= value("schedulers") + value("dirty_cpu_schedulers") + value("dirty_io_schedulers"))
        #expect(try value("os_processes_created") > 0 && value("os_context_switches") > 0)
    }

    /// Numbat's /metrics export, as a scraper gets it.
    static func prometheusText(server: TestServer, client: any TestClientProtocol) async throws -> String {
        try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(server.adminToken)"]) { response in
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            return String(buffer: response.body)
        }
    }

    @Test("the agent leaves nothing on the node: not after removal, not after Numbat stops", arguments: OTPRelease.installed)
    func agentLeaves(release: OTPRelease) async throws {
        try await TestNode.withNodes(2, release: release) { peers in
            let observer = try Observer(cookie: peers[0].cookie)
            @Sendable func agentState(_ peer: TestNode) async throws -> (Term, Term) {
                (try await observer.local.rpc(peer.name, "erlang", "whereis", [.atom("numbat_metrics_agent")]),
                 try await observer.local.rpc(peer.name, "code", "is_loaded", [.atom("numbat_metrics_agent")]))
            }
            let server = try await TestServer(metricsInterval: 1)
            try await server.server.makeApplication().test(.router) { client in
                let first = try await Self.add(peers[0], to: server, client: client)
                let second = try await Self.add(peers[1], to: server, client: client)
                _ = try await Self.metrics(first, server: server, client: client)
                _ = try await Self.metrics(second, server: server, client: client)
                #expect(try await agentState(peers[0]).0.pidValue != nil, "the agent runs while Numbat collects")
                _ = try await client.call(.delete, "/api/topo/nodes/\(first)", token: server.adminToken)
            }
            #expect(try await eventually(within: .seconds(30)) { try await agentState(peers[0]) == (.atom("undefined"), .atom(.false)) })
            await server.remove()
            #expect(try await eventually(within: .seconds(30)) { try await agentState(peers[1]) == (.atom("undefined"), .atom(.false)) })
            await observer.shutdown()
        }
    }

    @Test("where the agent cannot be loaded Numbat says why, polls without it, and tries the agent again later")
    func fallback() async throws {
        try await TestNode.with(release: .otp25) { peer in
            let observer = try Observer(cookie: peer.cookie)
            let sticky = try await observer.local.rpc(peer.name, "numbat_test_peer", "make_agent_sticky", [.atom("numbat_metrics_agent")])
            defer { if let path = sticky.stringValue { try? FileManager.default.removeItem(atPath: path) } }
            try await TestServer.with(metricsInterval: 1) { server, client in
                let events = server.server.bus.subscribe()
                let id = try await Self.add(peer, to: server, client: client)
                var reason: String?
                for await event in events {
                    if case .agentUnavailable(_, let agent, let why, _) = event.kind, agent == "numbat_metrics_agent" {
                        reason = why
                        break
                    }
                }
                #expect(reason?.contains("sticky") == true, "\(reason ?? "no event")")
                let metrics = try await Self.metrics(id, server: server, client: client)
                #expect(metrics["source"] as? String == "agentless")
                let values = Self.values(metrics)
                #expect(values["memory_total"].map { $0 > 1_000_000 } == true)
                #expect(values["process_count"].map { $0 > 10 } == true)

                // Once the agent can be loaded, a later try (after 30 s) starts it.
                let path = try #require(sticky.stringValue)
                _ = try await observer.local.rpc(peer.name, "code", "unstick_dir", [.string(path)])
                let recovered = try await eventually(within: .seconds(150)) {
                    try await Self.metrics(id, server: server, client: client)["source"] as? String == "agent"
                }
                #expect(recovered, "the agent was not tried again once it could run")
            }
            await observer.shutdown()
        }
    }

    @Test("a frozen node never stalls collection for the others")
    func frozenNode() async throws {
        try await TestNode.withNodes(2, release: .otp25) { peers in
            try await TestServer.with(metricsInterval: 1) { server, client in
                let frozen = try await Self.add(peers[0], to: server, client: client)
                let healthy = try await Self.add(peers[1], to: server, client: client)
                _ = try await Self.metrics(frozen, server: server, client: client)
                peers[0].freeze()
                defer { peers[0].thaw() }
                var times: [Date] = []
                for _ in 0..<3 {
                    let metrics = try await Self.metrics(healthy, after: times.last ?? Date(), server: server, client: client)
                    times.append(ISO8601DateFormatter().date(from: metrics["collected_at"] as! String)!)
                }
                #expect(times.count == 3)
                // Stalled behind the frozen node, each collection of the healthy one would wait out
                // the collect timeout (10 s); two intervals within one timeout show none did.
                #expect(times.last!.timeIntervalSince(times.first!) < 10, "healthy node collected while the other is frozen: \(times)")
            }
        }
    }

    @Test("/metrics is valid Prometheus text (parsed by prometheus_client), labelled by node and family", .requires(.promtool))
    func prometheus() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with(metricsInterval: 1) { server, client in
                let id = try await Self.add(peer, to: server, client: client)
                _ = try await Self.metrics(id, server: server, client: client)
                let text = try await Self.prometheusText(server: server, client: client)
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-prom-\(UUID().uuidString).txt")
                try Data(text.utf8).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                let script = """
                    import sys
                    from prometheus_client.parser import text_string_to_metric_families
                    families = list(text_string_to_metric_families(open(sys.argv[1]).read()))
                    names = {f.name for f in families}
                    own = ("process_", "numbat_")
                    samples = [s for f in families if not f.name.startswith(own) for s in f.samples]
                    assert all(s.labels.get("node") == sys.argv[2] and s.labels.get("family") for s in samples), "labels"
                    assert "erlang_memory_total_bytes" in names, names
                    assert any(f.name == "erlang_reductions" and f.type == "counter" for f in families), "counter"
                    # The server's own process, unlabelled, as Prometheus's client libraries name it.
                    value = {s.name: s.value for f in families if f.name.startswith(own) for s in f.samples}
                    assert value["process_resident_memory_bytes"] > 0 and value["process_open_fds"] >= 3, value
                    assert value["process_cpu_seconds_total"] > 0 and value["process_threads"] >= 1, value
                    assert value["numbat_heap_allocated_bytes"] > 0 and value["numbat_heap_arenas"] >= 1, value
                    assert 0 < value["numbat_heap_sqlite_bytes"] < value["numbat_heap_allocated_bytes"], value
                    print(len(families), len(samples))
                    """
                let result = try await ChildProcess.run("/usr/bin/env", ["python3", "-c", script, file.path, peer.name.description])
                #expect(result.status == 0, "\(result.standardError)")
                let counts = result.standardOutput.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                #expect(counts.first.map { $0 >= 90 } == true, "\(result.standardOutput)")

                // Prometheus's own linter (Debian's prometheus package) finds nothing but the
                // names deliberately identical to prometheus.erl's collectors.
                try await Promtool.expectOnlyAllowedNames(in: text)
                #expect(text.contains("erlang_vm_process_count{") && text.contains("erlang_vm_ets_tables{"), "prometheus.erl's names")
            }
        }
    }

    @Test("a node's own collection interval")
    func perNodeInterval() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with(metricsInterval: 3600) { server, client in
                let id = try await Self.add(peer, to: server, client: client)
                let first = try await Self.metrics(id, server: server, client: client)
                #expect(first["interval_seconds"] as? Double == 3600)
                let set = try await client.call(.put, "/api/metrics/nodes/\(id)/interval", body: json(["interval_seconds": 1]), token: server.adminToken)
                #expect(set["interval_seconds"] as? Double == 1)
                let bad = try await client.call(.put, "/api/metrics/nodes/\(id)/interval", body: json(["interval_seconds": 0]), token: server.adminToken)
                #expect(bad.status == .badRequest)
                // The hour-long wait in progress ends at the next cycle only; a restart of the
                // collector (node down/up) applies the new interval at once. Here: the new
                // interval is reported, and the catalogue is complete.
                let catalog = try await client.call(.get, "/api/metrics/catalog", token: server.adminToken)
                #expect((catalog["metrics"] as? [Any])?.count == MetricCatalog.builtIn.count)
            }
        }
    }
}
