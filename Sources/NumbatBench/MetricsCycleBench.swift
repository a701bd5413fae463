import ErlangDist
import ErlangTerm
import Foundation
import NumbatCore
import NumbatTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `numbat-bench --only metrics-cycle`: what one collection of one node costs the server, with
/// real OTP nodes and the real agent: `numbat serve` collecting K nodes every second, against
/// the reference of an Erlang hidden node injecting the same agent and calling it the same way
/// (what a BEAM-based tool pays for the same collections, without storing them).
struct MetricsCycleBench {
    var nodes: Int
    var seconds: Double
    var release: OTPRelease

    struct Report {
        var nodes: Int
        var seconds: Double
        var numbatCPU: CPUTime
        var numbatCycles: Int
        var erlangCPU: CPUTime
        var erlangCycles: Int
        var replyBytes: Int
    }

    func run() async throws -> Report {
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        progress("metrics-cycle: starting \(nodes) OTP nodes")
        var peers: [TestNode] = []
        for index in 0..<nodes { peers.append(try await startNode(release, cookie: cookie, alive: "nbcycle\(getpid())n\(index)")) }
        defer { for peer in peers { peer.stop() } }

        let (erlangCPU, erlangCycles) = try await measureErlang(peers, cookie: cookie)
        let (numbatCPU, numbatCycles, replyBytes) = try await measureNumbat(peers, cookie: cookie)
        return Report(nodes: nodes, seconds: seconds, numbatCPU: numbatCPU, numbatCycles: numbatCycles,
                      erlangCPU: erlangCPU, erlangCycles: erlangCycles, replyBytes: replyBytes)
    }

    private func measureErlang(_ peers: [TestNode], cookie: String) async throws -> (CPUTime, Int) {
        let beam = PackagePaths.root.appendingPathComponent("Sources/NumbatServices/Resources/agents/numbat_metrics_agent.beam").path
        let names = peers.map { "'\($0.name)'" }.joined(separator: ",")
        let script = """
            Nodes = [\(names)],
            {ok, Bin} = file:read_file("\(beam)"),
            [{module, _} = rpc:call(N, code, load_binary, [numbat_metrics_agent, "numbat_metrics_agent.beam", Bin]) || N <- Nodes],
            Self = self(),
            [{ok, _} = rpc:call(N, numbat_metrics_agent, start, [Self, #{}]) || N <- Nodes],
            io:format("ready~n"),
            Counter = counters:new(1, []),
            Loop = fun L() ->
                T0 = erlang:monotonic_time(millisecond),
                Ps = [spawn_monitor(fun() -> {ok, _} = rpc:call(N, numbat_metrics_agent, collect, [5000]), counters:add(Counter, 1, 1) end) || N <- Nodes],
                [receive {'DOWN', R, process, P, _} -> ok end || {P, R} <- Ps],
                io:format("cycles ~b~n", [counters:get(Counter, 1)]),
                timer:sleep(max(0, 1000 - (erlang:monotonic_time(millisecond) - T0))),
                L()
            end,
            Loop().
            """
        let process = Subprocess()
        process.executableURL = URL(fileURLWithPath: release.erl)
        process.arguments = ["-hidden", "-name", "nbcycleref\(getpid())@127.0.0.1", "-setcookie", cookie, "-noshell", "-noinput", "-eval", script]
        let lines = try LineCollector.run(process)
        defer { killAndReap(process.processIdentifier) }
        _ = try await lines.wait(for: "ready", timeout: 60)
        progress("metrics-cycle: Erlang hidden node collecting \(peers.count) nodes every second")
        try await Task.sleep(for: .seconds(3))
        let before = (ProcessSample.cpuTime(process.processIdentifier), Self.lastCycles(lines.text))
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        let after = (ProcessSample.cpuTime(process.processIdentifier), Self.lastCycles(lines.text))
        return (after.0 - before.0, after.1 - before.1)
    }

    static func lastCycles(_ text: String) -> Int {
        text.split(separator: "\n").last(where: { $0.hasPrefix("cycles ") }).flatMap { Int($0.dropFirst(7)) } ?? 0
    }

    private func measureNumbat(_ peers: [TestNode], cookie: String) async throws -> (CPUTime, Int, Int) {
        // The reference's agents are gone with it (they monitor their owner); wait until they are.
        let local = try LocalNode(.init(name: "nbcycleprobe\(getpid())", cookie: cookie))
        defer { Task { await local.shutdown() } }
        for peer in peers {
            for _ in 0..<100 {
                if try await local.rpc(peer.name, "erlang", "whereis", [.atom("numbat_metrics_agent")]) == .atom("undefined") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServeProcess.start(directory: directory, nodeName: "nbcycle\(getpid())", extraArguments: ["--metrics-interval", "1"])
        defer { server.terminate() }
        progress("metrics-cycle: numbat serve collecting \(peers.count) nodes every second")
        var ids: [String] = []
        for peer in peers {
            let added = try await server.post("/api/actions/add-node", ["node": peer.name.description, "cookie": cookie])
            let object = try JSONSerialization.jsonObject(with: added) as? [String: Any]
            if let id = (object?["node"] as? [String: Any])?["id"] as? String { ids.append(id) }
        }
        while try await server.upCount() < peers.count { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .seconds(3))
        let probe = Term.binary(Array("erlang:external_size(numbat_metrics_agent:collect(5000)).".utf8))
        let replyBytes = try await local.rpc(peers[0].name, "numbat_test_peer", "eval", [probe]).intValue ?? 0
        let before = ProcessSample.cpuTime(server.pid)
        let from = Date().timeIntervalSince1970
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        let cpu = ProcessSample.cpuTime(server.pid) - before
        let to = Date().timeIntervalSince1970
        // The collections made in the window, counted from the stored raw points.
        var cycles = 0
        for id in ids {
            let url = URL(string: server.url + "/api/metrics/nodes/\(id)/series?metrics=memory_total&from=\(from)&to=\(to)")!
            let (data, _) = try await URLSession.shared.data(from: url)
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            cycles += ((object?["series"] as? [[String: Any]])?.first?["points"] as? [Any])?.count ?? 0
        }
        return (cpu, cycles, replyBytes)
    }
}
