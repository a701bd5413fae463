import ErlangDist
import ErlangTerm
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NumbatTestSupport

/// `numbat-bench --only timings`: the latencies the tests used to bound with the wall clock
/// (a node UP within 2 s, DOWN within 1 s, an rpc timeout within 1 s, a typed handshake error
/// within 3 s, dead-peer detection in 0.75-1.25 net_ticktime). The tests now only wait for the
/// events, with wide bounds, because two shared cores under a full test run are no place to
/// measure time; here each figure is measured on its own, several times, and reported as
/// median and worst.
struct TimingsBench {
    var release: OTPRelease
    var samples: Int
    /// The peers' and our net_ticktime for the dead-peer figure: short, so a sample takes seconds.
    var tickSeconds: Int

    /// One figure: what was timed, every sample in milliseconds, and what the test used to demand.
    struct Figure {
        var name: String
        var milliseconds: [Double]
        var formerBound: String
    }

    func run() async throws -> [Figure] {
        var figures: [Figure] = []
        figures += try await serverFigures()
        figures.append(try await rpcTimeout())
        figures.append(try await wrongCookie())
        figures.append(try await deadPeer())
        return figures
    }

    // MARK: - numbat serve: add -> UP, kill -> DOWN

    private struct AddNode: Encodable {
        var node: String
        var cookie: String
    }

    private struct NodeAnswer: Decodable {
        struct Node: Decodable {
            var id: String
            var state: String
        }
        var node: Node
    }

    /// Through a `numbat serve` process and its REST API, as an operator sees it: the add-node
    /// request's round trip (it answers once the node is probed and UP), and from SIGKILL of the
    /// node until the API lists it DOWN (polled every 5 ms, so up to 5 ms late).
    private func serverFigures() async throws -> [Figure] {
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let serve = try await ServeProcess.start(directory: directory, nodeName: "nbtimings\(getpid())")
        defer { serve.terminate() }
        let clock = ContinuousClock()
        var up: [Double] = []
        var down: [Double] = []
        for sample in 0..<samples {
            progress("add -> UP and kill -> DOWN, \(release), sample \(sample + 1)/\(samples)")
            let node = try await startNode(release, cookie: cookie, alive: "nbtimings\(getpid())n\(sample)")
            let started = clock.now
            let answer = try await request("POST", serve.url + "/api/actions/add-node", body: AddNode(node: node.name.description, cookie: cookie), as: NodeAnswer.self)
            let added = clock.now
            guard answer.node.state == "UP" else { throw BenchFailure(description: "\(node.name) was added \(answer.node.state), not UP") }
            up.append(milliseconds(added - started))

            await NodeReaper.shared.stop(node)
            let killed = clock.now
            while try await request("GET", serve.url + "/api/topo/nodes/\(answer.node.id)", as: NodeAnswer.Node.self).state != "DOWN" {
                guard clock.now - killed < .seconds(60) else { throw BenchFailure(description: "\(node.name) not DOWN 60 s after the kill") }
                try await Task.sleep(for: .milliseconds(5))
            }
            down.append(milliseconds(clock.now - killed))
            _ = try await request("DELETE", serve.url + "/api/topo/nodes/\(answer.node.id)", as: Ignored.self)
        }
        return [
            Figure(name: "add-node request -> answered UP (numbat serve, REST)", milliseconds: up, formerBound: "UP within 2 s"),
            Figure(name: "SIGKILL of the node -> API lists it DOWN (5 ms polls)", milliseconds: down, formerBound: "DOWN within 1 s"),
        ]
    }

    private struct Ignored: Decodable {}

    private func request<Answer: Decodable>(_ method: String, _ url: String, body: (some Encodable)? = Optional<AddNode>.none,
                                            as: Answer.Type) async throws -> Answer {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: 60)
        request.httpMethod = method
        if let body {
            request.httpBody = try JSONEncoder().encode(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw BenchFailure(description: "\(method) \(url) answered \(status): \(String(decoding: data, as: UTF8.self))")
        }
        if Answer.self == Ignored.self { return Ignored() as! Answer }
        return try JSONDecoder().decode(Answer.self, from: data)
    }

    // MARK: - the distribution layer alone

    /// A 300 ms rpc timeout on a call that sleeps 1.5 s: from the call until the timeout error.
    private func rpcTimeout() async throws -> Figure {
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        let target = try await startNode(release, cookie: cookie, alive: "nbtimingsrpc\(getpid())")
        defer { Task { await NodeReaper.shared.stop(target) } }
        let local = try LocalNode(.init(name: "nbtimingsrpcprobe\(getpid())", cookie: cookie))
        defer { Task { await local.shutdown() } }
        try await local.connect(to: target.name)
        let clock = ContinuousClock()
        var times: [Double] = []
        for sample in 0..<samples {
            progress("rpc timeout (300 ms), \(release), sample \(sample + 1)/\(samples)")
            let started = clock.now
            do {
                _ = try await local.rpc(target.name, "timer", "sleep", [1500], timeout: .milliseconds(300))
                throw BenchFailure(description: "timer:sleep(1500) answered within a 300 ms timeout")
            } catch DistributionError.timeout {
                times.append(milliseconds(clock.now - started))
            }
        }
        return Figure(name: "rpc with a 300 ms timeout -> timeout error", milliseconds: times, formerBound: "within 1 s")
    }

    /// Dialling a real node with the wrong cookie: from `connect` until the typed
    /// `authenticationFailed` error (EPMD lookup, TCP, handshake and the digest check included).
    private func wrongCookie() async throws -> Figure {
        let target = try await startNode(release, cookie: "numbat-bench-right", alive: "nbtimingscookie\(getpid())")
        defer { Task { await NodeReaper.shared.stop(target) } }
        let clock = ContinuousClock()
        var times: [Double] = []
        for sample in 0..<samples {
            progress("wrong cookie -> typed error, \(release), sample \(sample + 1)/\(samples)")
            let local = try LocalNode(.init(name: "nbtimingscookieprobe\(getpid())s\(sample)", cookie: "numbat-bench-wrong"))
            let started = clock.now
            do {
                try await local.connect(to: target.name)
                throw BenchFailure(description: "a wrong cookie was accepted by \(target.name)")
            } catch DistributionError.authenticationFailed {
                times.append(milliseconds(clock.now - started))
            }
            await local.shutdown()
        }
        return Figure(name: "connect with a wrong cookie -> authenticationFailed", milliseconds: times, formerBound: "within 3 s")
    }

    /// A connected peer frozen with SIGSTOP (a hung machine, as the network sees it): from the
    /// freeze until the node-down event that names the tick timeout. Both sides tick at
    /// `tickSeconds`; Erlang's own window is 0.75 to 1.25 net_ticktime after the last data.
    private func deadPeer() async throws -> Figure {
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        let clock = ContinuousClock()
        var times: [Double] = []
        for sample in 0..<samples {
            progress("frozen peer -> nodedown (net_ticktime \(tickSeconds) s), \(release), sample \(sample + 1)/\(samples)")
            let target = try await offPool {
                try TestNode(release: release, cookie: cookie, alive: "nbtimingstick\(getpid())s\(sample)",
                             extraArgs: ["-kernel", "net_ticktime", "\(tickSeconds)"])
            }
            NodeReaper.shared.adopt(target)
            var configuration = LocalNode.Configuration(name: "nbtimingstickprobe\(getpid())s\(sample)", cookie: cookie)
            configuration.tickTime = .seconds(tickSeconds)
            let local = try LocalNode(configuration)
            try await local.connect(to: target.name)
            let events = local.nodeEvents()
            // Some traffic first, so "the last data seen" is now, as in the test.
            _ = try await local.rpc(target.name, "erlang", "node")
            let frozen = clock.now
            target.freeze()
            let name = target.name
            let reason = await withTaskGroup(of: String?.self) { group in
                group.addTask {
                    for await event in events { if case .down(let node, let why) = event, node == name { return why } }
                    return nil
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(60))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            times.append(milliseconds(clock.now - frozen))
            target.thaw()
            await NodeReaper.shared.stop(target)
            await local.shutdown()
            guard let reason, reason.contains("net_ticktime") else {
                throw BenchFailure(description: "the frozen node was not reported down for its ticks within 60 s: \(reason ?? "no event")")
            }
        }
        return Figure(name: "SIGSTOP of a connected peer -> nodedown (net_ticktime \(tickSeconds) s)", milliseconds: times,
                      formerBound: "0.5-1.5 net_ticktime")
    }

    private func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
