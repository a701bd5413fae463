import Foundation
import NumbatTestSupport
import Testing

/// Nodes as containers and Elixir releases run them (issue 14): without EPMD, on a fixed
/// distribution port (`-start_epmd false -erl_epmd_port P`), and nodes on IPv6
/// (`-proto_dist inet6_tcp`). Real OTP 25 nodes, a real `numbat serve`, the CLI.
@Suite("nodes without EPMD, and over IPv6")
struct NodesWithoutEPMDTests {
    static let cookie = "no-epmd-cookie"

    /// Two nodes on 127.0.0.1 and 127.0.0.2, both on port P and registered with no EPMD (the
    /// EPMD they would register with is a port where none runs), connected to each other.
    static func withNodesWithoutEPMD<T>(_ body: (_ port: Int, _ first: TestNode, _ second: TestNode) async throws -> T) async throws -> T {
        let port = try freePort(onAll: ["127.0.0.1", "127.0.0.2"])
        let nowhere = try freePort(onAll: ["127.0.0.1"])
        // Each listens on its own address only (a node listens on every address by default).
        func arguments(_ address: String) -> [String] {
            ["-start_epmd", "false", "-erl_epmd_port", "\(port)", "-kernel", "inet_dist_use_interface", "{\(address.replacingOccurrences(of: ".", with: ","))}"]
        }
        let first = try await TestNode.start(release: .otp25, cookie: cookie, environment: ["ERL_EPMD_PORT": "\(nowhere)"],
                                             extraArgs: arguments("127.0.0.1"))
        do {
            let second = try await TestNode.start(release: .otp25, cookie: cookie, host: "127.0.0.2",
                                                  environment: ["ERL_EPMD_PORT": "\(nowhere)"], extraArgs: arguments("127.0.0.2"))
            do {
                let result = try await body(port, first, second)
                await second.stopped()
                await first.stopped()
                return result
            } catch {
                await second.stopped()
                throw error
            }
        } catch {
            await first.stopped()
            throw error
        }
    }

    static func server(_ directory: URL) async throws -> ServerProcess {
        try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directory.path, "--metrics-interval", "1",
                                       "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))"])
    }

    static func numbat(_ server: ServerProcess, _ arguments: String...) async throws -> ChildProcess {
        try await numbat(server, arguments)
    }

    static func numbat(_ server: ServerProcess, _ arguments: [String]) async throws -> ChildProcess {
        let environment = ProcessInfo.processInfo.environment.merging(["NUMBAT_URL": server.url]) { $1 }
        return try await ChildProcess.run(CLITests.numbat, arguments, environment: environment)
    }

    /// Whether the server has stored metric points of `node` (its metrics agent collects).
    static func collects(_ server: ServerProcess, _ node: String) async throws -> Bool {
        try await eventually(within: .seconds(60)) {
            let history = try await numbat(server, "metrics", "get", node, "memory_total", "--since", "10m")
            return history.status == 0 && history.standardOutput.contains("TIME")
        }
    }

    struct Node: Decodable {
        var name: String
        var state: String
        var port: Int?
    }

    struct Nodes: Decodable { var nodes: [Node] }

    @Test("a node without EPMD is added as app@host:PORT, managed (metrics, rpc) and reconnected after a restart; its peers are discovered on its port")
    func withoutEPMD() async throws {
        try await Self.withNodesWithoutEPMD { port, first, second in
            // The two nodes find each other on the fixed port, not through EPMD.
            let linked = try await ChildProcess.run(CLITests.numbat, ["rpc", "\(first.name):\(port)", "net_kernel", "connect_node", "'\(second.name)'",
                                                                      "--cookie", Self.cookie])
            #expect(linked.status == 0 && linked.standardOutput.contains("true"), "\(linked.standardOutput) \(linked.standardError)")
            // EPMD knows neither node: they are reachable only on their port.
            let names = try await ChildProcess.run("/usr/bin/epmd", ["-names"])
            #expect(!names.standardOutput.contains(first.name.alive) && !names.standardOutput.contains(second.name.alive), "\(names.standardOutput)")
            let ping = try await ChildProcess.run(CLITests.numbat, ["ping", "\(first.name):\(port)", "--cookie", Self.cookie])
            #expect(ping.status == 0 && ping.standardOutput.contains("pong from \(first.name)"), "\(ping.standardOutput) \(ping.standardError)")

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-no-epmd-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            var server = try await Self.server(directory)
            defer { server.kill() }

            // Without its port: EPMD's answer, as a clear error; nothing is stored.
            let unported = try await Self.numbat(server, "node", "add", first.name.description, "--cookie", Self.cookie)
            #expect(unported.status != 0 && unported.standardError.contains("registered with EPMD"), "\(unported.standardError)")
            // A port out of range, or two different ports: 400s naming the problem.
            let (badStatus, badAnswer) = try await API.call("POST", server.url, "/api/actions/add-node",
                                                             body: ["node": "\(first.name):70000", "cookie": Self.cookie])
            #expect(badStatus == 400 && "\(badAnswer ?? "")".contains("invalid_node_name"), "\(badStatus) \(String(describing: badAnswer))")
            let (twoStatus, twoAnswer) = try await API.call("POST", server.url, "/api/actions/add-node",
                                                             body: ["node": "\(first.name):\(port)", "port": port + 1, "cookie": Self.cookie])
            #expect(twoStatus == 400 && "\(twoAnswer ?? "")".contains("invalid_port"), "\(twoStatus) \(String(describing: twoAnswer))")
            #expect(try await API.get(Nodes.self, server.url, "/api/topo/nodes").nodes.isEmpty)

            // With it, and discovery: the peer is found on the same port.
            let added = try await Self.numbat(server, "node", "add", "\(first.name):\(port)", "--cookie", Self.cookie, "--discover")
            #expect(added.status == 0, "\(added.standardError)")
            #expect(!added.standardOutput.contains("skipped"), "\(added.standardOutput)")
            let listed = try await API.get(Nodes.self, server.url, "/api/topo/nodes").nodes
            #expect(Set(listed.map(\.name)) == [first.name.description, second.name.description])
            #expect(listed.allSatisfy { $0.state == "UP" && $0.port == port }, "\(listed)")
            let shown = try await Self.numbat(server, "node", "show", second.name.description)
            #expect(shown.standardOutput.contains("\(port) (no EPMD)"), "\(shown.standardOutput)")

            // Managed as any node: the metrics agent's points, an rpc through the server.
            #expect(try await Self.collects(server, second.name.description), "no metric points from \(second.name)")
            let rpc = try await Self.numbat(server, "node", "rpc", second.name.description, "erlang", "node")
            #expect(rpc.status == 0 && rpc.standardOutput.contains(second.name.description), "\(rpc.standardOutput) \(rpc.standardError)")

            // Restarted, the server reaches both again on their stored port.
            #expect(try await server.terminate() == 0)
            server = try await Self.server(directory)
            let back = try await eventually(within: .seconds(60)) {
                let nodes = try await API.get(Nodes.self, server.url, "/api/topo/nodes").nodes
                return nodes.count == 2 && nodes.allSatisfy { $0.state == "UP" && $0.port == port }
            }
            #expect(back, "not UP again after a restart: \(server.output.suffix(2000))")
            #expect(try await server.terminate() == 0)
        }
    }

    @Test("a node on IPv6 (-proto_dist inet6_tcp, app@::1) is pinged, added and collected")
    func overIPv6() async throws {
        let node = try await TestNode.start(release: .otp25, cookie: Self.cookie, host: "::1", extraArgs: ["-proto_dist", "inet6_tcp"])
        do {
            let ping = try await ChildProcess.run(CLITests.numbat, ["ping", node.name.description, "--cookie", Self.cookie])
            #expect(ping.status == 0 && ping.standardOutput.contains("pong from \(node.name)"), "\(ping.standardOutput) \(ping.standardError)")
            // The bracketed form, needed only with a port, is accepted without one too.
            let rpc = try await ChildProcess.run(CLITests.numbat, ["rpc", "\(node.name.alive)@[::1]", "erlang", "node", "--cookie", Self.cookie])
            #expect(rpc.status == 0 && rpc.standardOutput.contains("'\(node.name)'"), "\(rpc.standardOutput) \(rpc.standardError)")

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-ipv6-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let server = try await Self.server(directory)
            defer { server.kill() }
            let added = try await Self.numbat(server, "node", "add", node.name.description, "--cookie", Self.cookie)
            #expect(added.status == 0, "\(added.standardError)")
            let listed = try await API.get(Nodes.self, server.url, "/api/topo/nodes").nodes
            #expect(listed.map(\.name) == [node.name.description] && listed.first?.state == "UP" && listed.first?.port == nil, "\(listed)")
            #expect(try await Self.collects(server, node.name.description), "no metric points from \(node.name)")
            #expect(try await server.terminate() == 0)
            await node.stopped()
        } catch {
            await node.stopped()
            throw error
        }
    }
}
