import ErlangDist
import ErlangTerm
import Foundation
import NumbatCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// What the cluster suites (`ClusterTests`, `ClusterFailoverTests`) share: several real
/// `numbat serve` processes on one real PostgreSQL database, the API as they read it, and the
/// managed nodes' own view of who is connected to them.

/// `GET /api/cluster` as the tests read it.
struct ClusterView: Decodable {
    struct Entry: Decodable {
        struct Server: Decodable {
            var id: UUID
            var node_name: String
        }
        var server: Server
        var alive: Bool
        var nodes: [UUID]
    }
    var servers: [Entry]
    var unleased_nodes: [UUID]

    /// Whether every one of `count` nodes is leased by the live server rendezvous hashing names,
    /// and by it alone.
    func isSettled(nodes count: Int) -> Bool {
        let live = servers.filter(\.alive)
        let held = live.flatMap(\.nodes)
        guard held.count == count, Set(held).count == count, unleased_nodes.isEmpty else { return false }
        let ids = live.map(\.server.id)
        return live.allSatisfy { entry in entry.nodes.allSatisfy { LeasePlanner.owner(of: $0, among: ids) == entry.server.id } }
    }

    /// The live server whose node name starts with `alive@`.
    func server(named alive: String) -> Entry? {
        servers.first { $0.alive && $0.server.node_name.hasPrefix(alive + "@") }
    }
}

/// `GET /api/topo/nodes` as the tests read it.
struct NodeList: Decodable {
    struct Node: Decodable {
        var id: UUID
        var name: String
        var state: String
    }
    var nodes: [Node]
}

/// Waits for `condition`, checking every `interval`, up to `timeout`: returns as soon as it holds.
func eventually(within timeout: Duration, every interval: Duration = .milliseconds(200), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// A server's REST API, read as JSON.
enum API {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func get<T: Decodable>(_ type: T.Type, _ base: String, _ path: String) async throws -> T {
        let (data, _) = try await URLSession.shared.data(from: URL(string: base + path)!)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw Failure(description: "GET \(path): \(error): \(String(decoding: data, as: UTF8.self).prefix(500))")
        }
    }

    /// Any request; the status and the JSON answer (nil when there is none).
    @discardableResult
    static func call(_ method: String, _ base: String, _ path: String, body: Any? = nil) async throws -> (status: Int, json: Any?) {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.timeoutInterval = 120
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return (status, data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: data))
    }

    /// A text answer (`/metrics`); anything but a 200 is a failure.
    static func text(_ base: String, _ path: String) async throws -> String {
        let (data, response) = try await URLSession.shared.data(from: URL(string: base + path)!)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw Failure(description: "GET \(path): \(status) \(String(decoding: data, as: UTF8.self).prefix(500))") }
        return String(decoding: data, as: UTF8.self)
    }

    static func object(_ base: String, _ path: String) async throws -> [String: Any] {
        let (status, json) = try await call("GET", base, path)
        guard status == 200, let object = json as? [String: Any] else { throw Failure(description: "GET \(path): \(status) \(String(describing: json))") }
        return object
    }
}

/// `numbat serve`, one server of a test's cluster: started (in a network namespace when given)
/// and waited for until it listens; killed with SIGKILL as a crash would, or stopped.
final class ServeProcess: @unchecked Sendable {
    let process: Subprocess
    /// Its API (inside its namespace, if it runs in one).
    let url: String
    let namespace: NetworkNamespace?
    private let collected: OutputCollector

    private init(process: Subprocess, url: String, namespace: NetworkNamespace?, collected: OutputCollector) {
        self.process = process
        self.url = url
        self.namespace = namespace
        self.collected = collected
    }

    var output: String { collected.text }
    var isRunning: Bool { process.isRunning }

    static func start(_ arguments: [String], in namespace: NetworkNamespace? = nil) async throws -> ServeProcess {
        try await offPool {
            let process = Subprocess()
            let command = namespace?.command(CLITests.numbat, arguments) ?? (executable: CLITests.numbat, arguments: arguments)
            process.executableURL = URL(fileURLWithPath: command.executable)
            process.arguments = command.arguments
            process.standardInput = FileHandle.nullDevice
            process.currentDirectoryURL = FileManager.default.temporaryDirectory
            let pipe = Pipe()
            for handle in [pipe.fileHandleForReading, pipe.fileHandleForWriting] {
                _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
            }
            process.standardOutput = pipe
            process.standardError = pipe
            let collected = OutputCollector()
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { collected.append(data) }
            }
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, process.isRunning {
                if let line = collected.text.components(separatedBy: "\n").first(where: { $0.hasPrefix("numbat listening on ") }) {
                    return ServeProcess(process: process, url: String(line.dropFirst("numbat listening on ".count)), namespace: namespace, collected: collected)
                }
                usleep(20_000)
            }
            Foundation.kill(process.processIdentifier, SIGKILL)
            _ = waitForExit(process, timeout: 10)
            throw StartFailure(description: "numbat serve did not start: \(collected.text)")
        }
    }

    /// SIGKILL, and waits until it is gone.
    func kill() async {
        guard waitForExit(process, timeout: 0) == nil else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        _ = try? await offPool { [process] in waitForExit(process, timeout: 30) }
    }

    /// SIGTERM; SIGKILL after 10 s.
    func terminate() async {
        guard waitForExit(process, timeout: 0) == nil else { return }
        process.terminate()
        _ = try? await offPool { [process] in
            if waitForExit(process, timeout: 10) == nil {
                Foundation.kill(process.processIdentifier, SIGKILL)
                _ = waitForExit(process, timeout: 30)
            }
        }
    }

    /// A request to its API; through `curl` inside its namespace when it runs in one.
    func call(_ method: String, _ path: String, body: Any? = nil) async throws -> (status: Int, json: Any?) {
        guard let namespace else { return try await API.call(method, url, path, body: body) }
        var command = "curl -s -m 120 -o - -w '\\n%{http_code}' -X \(method) '\(url)\(path)'"
        if let body {
            let text = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            command += " -H 'Content-Type: application/json' --data-binary '\(text.replacingOccurrences(of: "'", with: "'\\''"))'"
        }
        let result = try await namespace.run(command)
        var lines = result.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        let data = Data(lines.joined(separator: "\n").utf8)
        return (status, data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: data))
    }
}

/// Several `numbat serve` processes on one PostgreSQL database for one test: their data
/// directories (each with the same `secret.key`, as servers sharing a database must have), their
/// node names, and the database. `stop()` kills them all and removes every file.
final class ServerCluster: @unchecked Sendable {
    let postgres: PostgresServer
    let database = "numbat"
    let directory: URL
    /// The alive part of each server's node name, by slot.
    let names: [String]
    private let lock = NSLock()
    private var running: [Int: ServeProcess] = [:]

    private init(postgres: PostgresServer, directory: URL, slots: Int) {
        self.postgres = postgres
        self.directory = directory
        let tag = UInt32.random(in: 0...UInt32.max)
        names = (0..<slots).map { "numbat\(["A", "B", "C", "D", "E"][$0 % 5])\(tag)" }
    }

    /// Runs `body` with a fresh database and `slots` server slots (none started); everything is
    /// stopped and removed afterwards however it ends. PostgreSQL listens on 127.0.0.1 and on
    /// `alsoListenOn` (namespaces' host sides).
    static func with<T>(slots: Int, alsoListenOn: [String] = [], _ body: (ServerCluster) async throws -> T) async throws -> T {
        let postgres = try await PostgresServer.start(alsoListenOn: alsoListenOn)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-cluster-\(UUID().uuidString.prefix(8))")
        let cluster = ServerCluster(postgres: postgres, directory: directory, slots: slots)
        do {
            try await postgres.createDatabase(cluster.database)
            let key = (0..<32).map { _ in UInt8.random(in: 0...255) }
            for slot in 0..<slots {
                let data = cluster.dataDirectory(slot)
                try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                guard FileManager.default.createFile(atPath: data.appendingPathComponent("secret.key").path, contents: Data(key),
                                                     attributes: [.posixPermissions: 0o600]) else {
                    throw API.Failure(description: "cannot write the key file")
                }
            }
            let value = try await body(cluster)
            await cluster.stop()
            return value
        } catch {
            await cluster.stop()
            throw error
        }
    }

    func dataDirectory(_ slot: Int) -> URL { directory.appendingPathComponent("server-\(slot)") }

    /// Starts the server of `slot` (again, after a kill: same data directory and name).
    @discardableResult
    func start(_ slot: Int, in namespace: NetworkNamespace? = nil, databaseHost: String = "127.0.0.1", extra: [String] = []) async throws -> ServeProcess {
        let server = try await ServeProcess.start(["serve", "--port", "0", "--data-dir", dataDirectory(slot).path,
                                                  "--store", postgres.url(database: database, host: databaseHost),
                                                  "--node-name", names[slot], "--reconnect-initial", "0.2", "--reconnect-max", "1"] + extra,
                                                 in: namespace)
        lock.withLock { running[slot] = server }
        return server
    }

    func server(_ slot: Int) -> ServeProcess? { lock.withLock { running[slot] } }

    /// The last lines each running server logged (warnings and errors), for a failure message.
    var logTails: String {
        lock.withLock { running.sorted { $0.key < $1.key } }.map { slot, server in
            "server \(slot):\n" + server.output.split(separator: "\n").suffix(30).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// SIGKILL of one server.
    func kill(_ slot: Int) async {
        let server = lock.withLock { running.removeValue(forKey: slot) }
        await server?.kill()
    }

    /// The slot of the server whose node name is `nodeName` (or starts with its alive part).
    func slot(of nodeName: String) -> Int? {
        names.firstIndex { nodeName == $0 || nodeName.hasPrefix($0 + "@") }
    }

    func stop() async {
        let all = lock.withLock { () -> [ServeProcess] in
            defer { running = [:] }
            return Array(running.values)
        }
        for server in all { await server.kill() }
        await postgres.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The slots of the Numbat servers `peer` is connected to, as the peer itself sees it
    /// (`erlang:nodes(hidden)`), asked through `observer`.
    func managers(of peer: NodeName, observer: LocalNode) async throws -> Set<Int> {
        let hidden = try await observer.rpc(peer, "erlang", "nodes", [.atom("hidden")])
        return Set((hidden.listElements ?? []).compactMap { $0.atomValue?.name }.compactMap { slot(of: $0) })
    }

    /// The deployment record of `node` as stored (`runner` included, which the API leaves out).
    func deploymentRecord(_ node: String) async throws -> [String: Any] {
        let text = try await postgres.psql("SELECT convert_from(body, 'UTF8') FROM orch_record WHERE kind = 'deployment' AND id = '\(node)'",
                                           database: database)
        guard !text.isEmpty, let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [:] }
        return object
    }
}

/// A real OTP 25 node named at `host` (an address a network namespace reaches too, which
/// `TestNode`'s 127.0.0.1 is not), killed by `stop()`.
final class HostPeer: @unchecked Sendable {
    let name: NodeName
    let cookie: String
    private let process: Subprocess

    private init(name: NodeName, cookie: String, process: Subprocess) {
        self.name = name
        self.cookie = cookie
        self.process = process
    }

    static func start(host: String, cookie: String) async throws -> HostPeer {
        try OTPRelease.otp25.requireInstalled()
        return try await offPool {
            let name = NodeName(alive: "p\(UInt32.random(in: 0...UInt32.max))", host: host)
            let process = Subprocess()
            process.executableURL = URL(fileURLWithPath: OTPRelease.otp25.erl)
            process.arguments = ["-name", name.description, "-setcookie", cookie, "-noshell", "-noinput", "-eval", "io:format(\"peer-ready~n\")."]
            process.currentDirectoryURL = FileManager.default.temporaryDirectory
            process.standardInput = FileHandle.nullDevice
            let pipe = Pipe()
            for handle in [pipe.fileHandleForReading, pipe.fileHandleForWriting] {
                _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
            }
            process.standardOutput = pipe
            process.standardError = pipe
            let collected = OutputCollector()
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { collected.append(data) }
            }
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, process.isRunning {
                if collected.text.contains("peer-ready") { return HostPeer(name: name, cookie: cookie, process: process) }
                usleep(20_000)
            }
            killAndReap(process.processIdentifier)
            throw StartFailure(description: "\(name) did not start: \(collected.text)")
        }
    }

    /// Runs `body` with `count` peers at `host`, killing them all afterwards whatever happens.
    static func with<T>(_ count: Int, host: String, cookie: String, _ body: ([HostPeer]) async throws -> T) async throws -> T {
        var peers: [HostPeer] = []
        do {
            for _ in 0..<count { peers.append(try await start(host: host, cookie: cookie)) }
            let value = try await body(peers)
            for peer in peers { await peer.stop() }
            return value
        } catch {
            for peer in peers { await peer.stop() }
            throw error
        }
    }

    func stop() async {
        let pid = process.processIdentifier
        _ = try? await offPool { killAndReap(pid) }
    }
}

/// What a test reads back from moto_server, with an independent client.
extension MotoServer {
    /// The states of the instances whose Name tag is `name`, as EC2 (boto3, an independent
    /// client) reports them.
    func instanceStates(named name: String) async throws -> [String] {
        let script = """
            import boto3, sys
            ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKIDNUMBAT", aws_secret_access_key="x")
            found = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [sys.argv[2]]}])
            print(" ".join(i["State"]["Name"] for r in found["Reservations"] for i in r["Instances"]))
            """
        let result = try await ChildProcess.run("/usr/bin/env", ["python3", "-c", script, endpoint.absoluteString, name])
        guard result.status == 0 else { throw API.Failure(description: "describe_instances failed: \(result.standardError)") }
        return result.standardOutput.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}
