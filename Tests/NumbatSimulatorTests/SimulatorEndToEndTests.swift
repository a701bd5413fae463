import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NumbatAPI
import NumbatCore
import NumbatTestSupport
import Testing

/// `numbat-sim` as a process, met by the real BEAM and by a real `numbat serve`: a real OTP 25
/// node finds a simulated node through the simulator's EPMD, connects and calls it; Numbat
/// discovers the simulated clusters, brings every node UP, injects its agents, collects changing
/// metrics, stores the simulated log events and raises and clears the simulated SASL alarm.
@Suite("numbat-sim against real peers", .requires(.otp(.otp25)))
struct SimulatorEndToEndTests {
    static let cookie = "sim-e2e-cookie"

    /// A port free on the simulator's first address, for its EPMD.
    static func freePort() throws -> Int {
        let socket = Socket4.bind(host: "127.77.0.1")
        defer { close(socket.fd) }
        guard socket.port > 0 else { throw BackgroundProcessFailure(description: "cannot bind 127.77.0.1") }
        return socket.port
    }

    static func get<T: Decodable>(_ type: T.Type, _ url: String) async throws -> T {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw BackgroundProcessFailure(description: "GET \(url): \(String(decoding: data, as: UTF8.self))")
        }
        return try APICoding.decoder().decode(T.self, from: data)
    }

    static func addNode(_ server: String, _ node: String) async throws -> AddNodeResponse {
        var request = URLRequest(url: URL(string: server + "/api/actions/add-node")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONEncoder().encode(AddNodeRequest(node: node, cookie: cookie, discover: true))
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 201 else {
            throw BackgroundProcessFailure(description: "adding \(node): \(String(decoding: data, as: UTF8.self))")
        }
        return try APICoding.decoder().decode(AddNodeResponse.self, from: data)
    }

    /// Polls `condition` every 250 ms for up to `timeout`; returns as soon as it holds.
    static func eventually(_ timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(250))
        }
        return try await condition()
    }

    @Test("a real OTP node and a real numbat serve manage simulated nodes end to end")
    func endToEnd() async throws {
        let epmdPort = try Self.freePort()
        let prefix = "simt\(UInt32.random(in: 0...UInt32.max))x"
        let simulator = try BackgroundProcess(BackgroundProcess.product("numbat-sim"), [
            "run", "--count", "20", "--cluster-size", "10", "--nodes-per-host", "5", "--epmd-port", "\(epmdPort)",
            "--cookie", Self.cookie, "--prefix", prefix, "--logs-per-minute", "240", "--alarms-per-hour", "3600",
        ])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-sim-e2e-\(UUID().uuidString)")
        var server: BackgroundProcess?
        defer {
            try? FileManager.default.removeItem(at: directory)
        }
        do {
            _ = try await simulator.line(startingWith: "numbat-sim ready: 20 simulated nodes", timeout: 60)
            let first = "\(prefix)0@127.77.0.1"

            // The BEAM itself: EPMD lookup on the simulator's port, handshake, then calls through
            // rex as Numbat makes them (`rpc:call/4` of OTP 25 needs erpc's spawn_request, which
            // a simulated node, like Numbat's own node, does not offer).
            let probe = try await ChildProcess.run(OTPRelease.otp25.erl, [
                "-name", "probe\(UInt32.random(in: 0...UInt32.max))@127.0.0.1", "-setcookie", Self.cookie, "-dist_listen", "false",
                "-noshell", "-noinput", "-eval",
                """
                Call = fun(M, F, A) -> {rex, '\(first)'} ! {self(), {call, M, F, A, group_leader()}}, receive {rex, R} -> R after 10000 -> timeout end end,
                Pong = net_adm:ping('\(first)'),
                io:format("~p ~p ~p~n", [Pong, Call(erlang, system_info, [otp_release]), length(Call(erlang, nodes, []))]), halt().
                """,
            ], environment: ProcessInfo.processInfo.environment.merging(["ERL_EPMD_PORT": "\(epmdPort)"]) { $1 })
            // The nine cluster neighbours (the simulator lists its cluster, not who else connects).
            #expect(probe.standardOutput.hasPrefix("pong \"25\" 9"), "\(probe.standardOutput) \(probe.standardError)")

            let running = try BackgroundProcess(BackgroundProcess.product("numbat"), [
                "serve", "--port", "0", "--data-dir", directory.path, "--node-name", "numbatsim\(UInt32.random(in: 0...UInt32.max))",
                "--metrics-interval", "2", "--log-level", "warning",
            ], environment: ["ERL_EPMD_PORT": "\(epmdPort)", "NUMBAT_COOKIE": ""])
            server = running
            let url = String(try await running.line(startingWith: "numbat listening on ", timeout: 60).dropFirst("numbat listening on ".count))

            // Two seeds; discovery finds the rest of each simulated cluster.
            let added = try await Self.addNode(url, first)
            _ = try await Self.addNode(url, "\(prefix)10@127.77.0.3")
            #expect(added.discovered.count == 9)
            #expect(added.skipped.isEmpty, "\(added.skipped)")
            var nodes: [ManagedNode] = []
            let allUp = try await Self.eventually(.seconds(120)) {
                nodes = try await Self.get(NodeListResponse.self, url + "/api/topo/nodes").nodes
                return nodes.count == 20 && nodes.allSatisfy { $0.state == .up }
            }
            #expect(allUp, "\(nodes.map { "\($0.name) \($0.state)" })")
            #expect(nodes.allSatisfy { $0.otpRelease == "25" })

            // Metrics: collected through the injected agent, and changing between cycles.
            let node = try #require(nodes.first { $0.name == first })
            func reductions() async throws -> Double? {
                try await Self.get(NodeMetricsResponse.self, url + "/api/metrics/nodes/\(node.id.uuidString.lowercased())")
                    .metrics.first { $0.name == "reductions" }?.value
            }
            var firstValue: Double?
            #expect(try await Self.eventually(.seconds(60)) { firstValue = try await reductions(); return firstValue != nil })
            #expect(try await Self.eventually(.seconds(60)) { (try await reductions() ?? 0) > (firstValue ?? .infinity) })

            // Log events at warning and above (the log agent's default level) from the simulated nodes.
            #expect(try await Self.eventually(.seconds(90)) {
                try await Self.get(NotificationPageResponse.self, url + "/api/notifications?limit=100").notifications
                    .contains { $0.source == .logger && $0.nodeName.hasPrefix(prefix) }
            })

            // A SASL alarm raised by a simulated node, then cleared by it (30-120 s later).
            #expect(try await Self.eventually(.seconds(240)) {
                try await Self.get(AlarmPageResponse.self, url + "/api/alarms?limit=200").alarms
                    .contains { $0.source == .sasl && $0.state == .cleared && $0.key.contains("disk_almost_full") }
            })
        } catch {
            await server?.stop()
            await simulator.stop()
            throw error
        }
        await server?.stop()
        await simulator.stop()
    }
}
