import Foundation
import NumbatProviders
import NumbatTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `numbat-bench deploy`: wall time from a deployment request to all nodes UP (and clustered
/// by the demo release's bootstrap), on hosts that are network namespaces with their own sshd,
/// for N nodes and concurrency limits C. The reference, in the same run, boots the same release
/// on the same hosts without Numbat: unpack, write vm.args and start, C at a time, straight in
/// the namespaces (no SSH, no upload), until every node answers a ping.
struct DeployBench {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    var sizes: [Int]
    var concurrencies: [Int]
    var hostCount: Int

    struct Row {
        var nodes: Int
        var concurrency: Int
        var numbatSeconds: Double
        var deleteSeconds: Double
        var referenceSeconds: Double
    }

    func run() async throws -> [Row] {
        let key = SSHKeyPair.generate()
        let archive = try await DemoRelease.archiveFile()
        let hosts = try await TestHosts.start(count: hostCount, authorizedKeys: [key.authorizedKey])
        defer { Task { await hosts.stop() } }
        var rows: [Row] = []
        for size in sizes {
            for concurrency in concurrencies {
                progress("deploy: \(size) nodes, \(concurrency) at a time, through numbat serve")
                let numbat = try await measureNumbat(size: size, concurrency: concurrency, hosts: hosts, key: key, archive: archive)
                progress("deploy: \(size) nodes, \(concurrency) at a time, booted without Numbat")
                let reference = try await measureReference(size: size, concurrency: concurrency, hosts: hosts, archive: archive)
                rows.append(Row(nodes: size, concurrency: concurrency, numbatSeconds: numbat.deploy, deleteSeconds: numbat.delete, referenceSeconds: reference))
            }
        }
        await hosts.stop()
        return rows
    }

    private func measureNumbat(size: Int, concurrency: Int, hosts: TestHosts, key: SSHKeyPair, archive: URL) async throws -> (deploy: Double, delete: Double) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServeProcess.start(directory: directory, nodeName: "nbdeploy\(getpid())",
                                                  extraArguments: ["--deploy-concurrency", String(concurrency)])
        defer { server.terminate() }
        let api = BenchAPI(base: server.url)
        let release = try await api.call("POST", "/api/orch/releases", [
            "name": "demo", "start_cmd": "bin/numbat_demo daemon", "stop_cmd": "bin/numbat_demo stop", "cookie": "bench-cookie",
            "node_name_templates": ["releases/0.1.0/vm.args"], "release": try Data(contentsOf: archive).base64EncodedString(),
        ])["uuid"] as? String ?? ""
        let root = hosts.directory.appendingPathComponent("bench-\(UUID().uuidString.prefix(8))").path
        let provider = try await api.call("POST", "/api/orch/providers", [
            "type": "physical", "name": "bench", "hosts": hosts.hosts.map(\.address), "directory": root, "private_key": key.openSSHPrivateKey,
        ])["uuid"] as? String ?? ""
        let family = try await api.call("POST", "/api/topo/node_families", [
            "name": "bench", "bootstrap_strategy": "custom", "bootstrap_strategy_opts": ["cmd": "bin/bootstrap"],
        ])["id"] as? String ?? ""
        _ = try await api.call("POST", "/api/orch/node_families/\(family)/release", ["release": release])
        _ = try await api.call("POST", "/api/orch/node_families/\(family)/domains", ["provider": provider, "ssh_user": "root"])
        let started = Date()
        let ids = try await api.call("POST", "/api/orch/node_families/\(family)/nodes", ["amount": size, "provider": provider])["nodes"] as? [String] ?? []
        while true {
            let nodes = try await api.call("GET", "/api/orch/node_families/\(family)/nodes")["items"] as? [[String: Any]] ?? []
            if let failed = nodes.first(where: { $0["step"] as? String == "failed" }) {
                throw DeployBench.Failure(description: "a node failed to deploy: \(failed["message"] ?? failed["last_error"] ?? "")\n\(server.output.suffix(2000))")
            }
            if nodes.count == size, nodes.allSatisfy({ $0["step"] as? String == "done" }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let deployed = Date().timeIntervalSince(started)
        let deleting = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in ids { group.addTask { _ = try await api.call("DELETE", "/api/orch/nodes/\(id)") } }
            try await group.waitForAll()
        }
        let deleted = Date().timeIntervalSince(deleting)
        _ = try await api.call("DELETE", "/api/orch/node_families/\(family)")
        return (deployed, deleted)
    }

    /// The same boots without Numbat, C at a time: unpack, vm.args, start; then ping them all.
    private func measureReference(size: Int, concurrency: Int, hosts: TestHosts, archive: URL) async throws -> Double {
        let root = hosts.directory.appendingPathComponent("reference-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var names: [String] = []
        var lines: [String] = []
        for index in 0..<size {
            let host = hosts.hosts[index % hosts.hosts.count]
            let id = UUID().uuidString.lowercased()
            let name = "\(id)@\(host.address)"
            names.append(name)
            let dir = root.appendingPathComponent(id).path
            lines.append("\(host.namespace) \(dir) \(name)")
        }
        let list = root.appendingPathComponent("nodes.txt")
        try lines.joined(separator: "\n").appending("\n").write(to: list, atomically: true, encoding: .utf8)
        let boot = """
            ns=$1; dir=$2; name=$3
            mkdir -p "$dir" && tar xzf '\(archive.path)' -C "$dir" &&
            printf -- '-name %s\\n-setcookie bench-cookie\\n+K true\\n' "$name" > "$dir/releases/0.1.0/vm.args" &&
            ip netns exec "$ns" "$dir/bin/numbat_demo" daemon
            """
        let script = root.appendingPathComponent("boot.sh")
        try boot.write(to: script, atomically: true, encoding: .utf8)
        let pinger = names.map { "'\($0)'" }.joined(separator: ",")
        let started = Date()
        let booted = try await ChildProcess.run("/bin/sh", ["-c", "xargs -P \(concurrency) -L 1 sh \(script.path) < \(list.path)"])
        guard booted.status == 0 else { throw DeployBench.Failure(description: "the reference boot failed: \(booted.standardError)") }
        let ping = try await ChildProcess.run("/usr/bin/erl", ["-noshell", "-hidden", "-name", "nbping\(getpid())@\(hosts.gateway)", "-setcookie", "bench-cookie", "-eval", """
            Wait = fun W(N, 0) -> exit({not_up, N}); W(N, T) -> case net_adm:ping(N) of pong -> ok; pang -> timer:sleep(20), W(N, T - 1) end end,
            [Wait(N, 3000) || N <- [\(pinger)]], halt().
            """])
        let seconds = Date().timeIntervalSince(started)
        guard ping.status == 0 else { throw DeployBench.Failure(description: "the reference nodes did not answer: \(ping.standardOutput)") }
        // Stop the reference nodes; TestHosts.stop kills whatever is left in the namespaces.
        for line in lines {
            let parts = line.split(separator: " ")
            _ = try? await ChildProcess.run("/usr/sbin/ip", ["netns", "exec", String(parts[0]), "\(parts[1])/bin/numbat_demo", "stop"])
        }
        try? FileManager.default.removeItem(at: root)
        return seconds
    }
}

/// JSON calls to a `numbat serve` on loopback (no token needed there).
struct BenchAPI: Sendable {
    let base: String

    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: base + path)!, timeoutInterval: 600)
        request.httpMethod = method
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw DeployBench.Failure(description: "\(method) \(path) answered \(status): \(String(decoding: data, as: UTF8.self))")
        }
        return data.isEmpty ? [:] : (try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:])
    }
}
