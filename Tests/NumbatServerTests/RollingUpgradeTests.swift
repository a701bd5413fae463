import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatProviders
import NumbatTestSupport
import Testing

/// Rolling upgrades on real nodes (issue 19 item 3): the demo release deployed on three
/// namespace hosts, 0.2.0 (with a relup made by rebar3) rolled over it one node at a time
/// without a restart, then a broken 0.3.0 that stops at its first node and rolls it back,
/// while a watcher checks that two of the three nodes are always UP and connected.
@Suite("rolling upgrades on namespace hosts", .serialized, .requires(.namespaceHosts, .rebar3))
struct RollingUpgradeTests {
    static func upload(_ archive: URL, version: String, server: TestServer, client: any TestClientProtocol) async throws -> String {
        let uploaded = try await client.call(.post, "/api/orch/releases", body: json([
            "name": "Numbat demo \(version)", "start_cmd": "bin/numbat_demo daemon", "stop_cmd": "bin/numbat_demo stop", "cookie": OrchestrationTests.cookie,
            "node_name_templates": ["releases/\(version)/vm.args"], "release": try Data(contentsOf: archive).base64EncodedString(),
        ]), token: server.adminToken)
        #expect(uploaded.status == .created, "\(uploaded.text)")
        return try #require(uploaded["uuid"] as? String)
    }

    static func rpc(_ node: String, _ module: String, _ function: String, client: any TestClientProtocol, token: String) async throws -> Any? {
        let answer = try await client.call(.post, "/api/nodes/\(node)/rpc", body: json(["module": module, "function": function, "args": []]), token: token)
        return answer["result"] ?? answer.text
    }

    /// The OS process of each node, to tell a hot upgrade (same process) from a restart.
    static func pids(_ ids: [String], client: any TestClientProtocol, token: String) async throws -> [String: String] {
        var pids: [String: String] = [:]
        for id in ids { pids[id] = text(try await rpc(id, "os", "getpid", client: client, token: token)) }
        return pids
    }

    static func version(_ id: String, client: any TestClientProtocol, token: String) async throws -> String {
        text(try await rpc(id, "numbat_demo", "version", client: client, token: token))
    }

    /// A charlist answer (`{"charlist": "text"}`, docs/commands.md) as its text.
    static func text(_ value: Any?) -> String {
        (value as? [String: Any])?["charlist"] as? String ?? (value as? String) ?? "\(value ?? "none")"
    }

    @Test("0.2.0 with a relup rolled over 3 nodes one at a time without a restart; a broken 0.3.0 stops at the first node and rolls it back; 2 of 3 nodes UP and connected throughout")
    func rollingUpgrade() async throws {
        let key = SSHKeyPair.generate()
        let archives = try await DemoUpgrades.archives()
        try await TestHosts.with(count: 3, authorizedKeys: [key.authorizedKey]) { hosts in
            try await TestServer.with(.live) { server, client in
                let token = server.adminToken
                let v1 = try await Self.upload(archives.v1, version: "0.1.0", server: server, client: client)
                let root = hosts.directory.appendingPathComponent("pool").path
                let provider = try await OrchestrationTests.physicalProvider("Pool", addresses: hosts.hosts.map(\.address), key: key, directory: root,
                                                                             server: server, client: client)
                let family = try await OrchestrationTests.family("Rolling", release: v1, server: server, client: client)
                let domain = try await client.call(.post, "/api/orch/node_families/\(family)/domains",
                                                   body: json(["provider": provider, "ssh_user": "root", "vdisk": "1", "hw_profile": "1"]), token: token)
                #expect(domain.status == .created, "\(domain.text)")
                let deployed = try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 3]), token: token)
                #expect(deployed.status == .accepted, "\(deployed.text)")
                var listed: [[String: Any]] = []
                let allUp = try await eventually(within: .seconds(180)) {
                    listed = try await OrchestrationTests.nodes(family, server: server, client: client)
                    if listed.contains(where: { $0["status"] as? String == "ERROR" }) { return true }
                    return listed.count == 3 && listed.allSatisfy { $0["step"] as? String == "done" && $0["status"] as? String == "UP" }
                }
                try #require(allUp && listed.allSatisfy { $0["status"] as? String == "UP" }, "\(listed)")
                let ids = listed.compactMap { $0["id"] as? String }
                let names = Dictionary(uniqueKeysWithValues: listed.map { ($0["id"] as? String ?? "", $0["name"] as? String ?? "") })
                for id in ids {
                    let clustered = try await eventually(within: .seconds(30)) {
                        try await OrchestrationTests.peers(id, server: server, client: client) == Set(names.values).subtracting([names[id] ?? ""])
                    }
                    #expect(clustered, "\(names[id] ?? id) is in its cluster")
                }
                let v2 = try await Self.upload(archives.v2, version: "0.2.0", server: server, client: client)
                let v3 = try await Self.upload(archives.v3, version: "0.3.0", server: server, client: client)

                // The watcher: the largest group of UP nodes that all see each other, sampled
                // for as long as the upgrades run.
                let quorum = Quorum()
                let watcher = Task {
                    while !Task.isCancelled {
                        // The family's nodes, tried three times; a sample without them is left out
                        // (and counted: more than two such samples fail the test with why).
                        var nodes: [[String: Any]]?
                        var failure = ""
                        for attempt in 0..<3 where nodes == nil {
                            if attempt > 0 { try? await Task.sleep(for: .milliseconds(200)) }
                            do { nodes = try await Self.familyNodes(family, server: server, client: client) } catch { failure = "\(error)" }
                        }
                        guard let nodes else {
                            quorum.listFailed(failure)
                            continue
                        }
                        let up = nodes.filter { $0["status"] as? String == "UP" }.compactMap { $0["id"] as? String }
                        // A node's view read through the API's rpc (10 s each, within the test
                        // client's 15 s), tried three times: on a loaded machine a call may time
                        // out, which says nothing about the cluster. A node Numbat says it has no
                        // connection to (503 `node_unavailable`: the node being switched or rolled
                        // back, stored UP a moment before Numbat has it connected) is not
                        // reachable and is in no group. A node still unread for any other reason
                        // (a timeout, a transport error) makes the sample inconclusive: it is left
                        // out of the quorum and counted, with why.
                        var sees: [String: Set<String>] = [:]
                        var unread: [String: String] = [:]
                        for id in up {
                            for attempt in 0..<3 where sees[id] == nil {
                                if attempt > 0 { try? await Task.sleep(for: .milliseconds(300 * attempt)) }
                                do {
                                    sees[id] = try await Self.peers(id, server: server, client: client)
                                    unread[id] = nil
                                } catch let failure as QuorumReadFailed where failure.status == 503 && failure.text.contains("node_unavailable") {
                                    unread[id] = nil
                                    break
                                } catch {
                                    unread[id] = "\(error)"
                                }
                            }
                        }
                        if !unread.isEmpty {
                            quorum.inconclusive(unread.map { "\(names[$0.key] ?? $0.key): \($0.value)" }.sorted().joined(separator: "; "))
                            continue
                        }
                        quorum.sample(up: up, names: names, sees: sees)
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                }
                defer { watcher.cancel() }

                let before = try await Self.pids(ids, client: client, token: token)
                try await client.ws("/api/ws?token=\(token)") { inbound, outbound, _ in
                    let watchdog = Task {
                        try await Task.sleep(for: .seconds(400))
                        try await outbound.close(.goingAway, reason: "test timed out")
                    }
                    defer { watchdog.cancel() }
                    var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    #expect(try await LifecycleTests.next(&messages)?["type"] as? String == "hello")
                    try await outbound.write(.text(json(["subscribe": ["topics": ["deployment"]]])))
                    #expect(try await LifecycleTests.next(&messages)?["type"] as? String == "subscribed")

                    // Bad requests lose nothing: each is refused with its reason.
                    let upgrades = "/api/orch/node_families/\(family)/upgrades"
                    for (body, status, code) in [(json(["release": v2, "batch": 0]), HTTPResponse.Status.badRequest, "invalid_field"),
                                                 (json(["release": v2, "batch": 4]), .badRequest, "invalid_field"),
                                                 (json(["release": v2, "bacth": 1]), .badRequest, "unknown_field"),
                                                 (json(["release": UUID().uuidString]), .notFound, "release_not_found")] {
                        let refused = try await client.call(.post, upgrades, body: body, token: token)
                        #expect(refused.status == status && refused.errorCode == code, "\(body): \(refused.text)")
                    }
                    let unknown = try await client.call(.post, "/api/orch/node_families/\(UUID().uuidString)/upgrades", body: json(["release": v2]), token: token)
                    #expect(unknown.status == .notFound, "\(unknown.text)")
                    #expect(try await client.call(.get, "/api/orch/upgrades/\(UUID().uuidString)", token: token).status == .notFound)
                    #expect((try await client.call(.get, upgrades, token: token)["items"] as? [Any])?.isEmpty == true)

                    // 0.2.0, one node at a time, hot.
                    let started = try await client.call(.post, "/api/orch/node_families/\(family)/upgrades", body: json(["release": v2, "batch": 1]), token: token)
                    #expect(started.status == .accepted, "\(started.text)")
                    let upgrade = try #require(started["id"] as? String)
                    var types: [String] = []
                    let ended = try await LifecycleTests.next(&messages) { message in
                        types.append(message["type"] as? String ?? "")
                        return message["type"] as? String == "upgrade_succeeded" || message["type"] as? String == "upgrade_failed"
                    }
                    #expect(ended?["type"] as? String == "upgrade_succeeded", "\(ended ?? [:])")
                    #expect(types.filter { $0 == "upgrade_node_upgraded" }.count == 3, "\(types)")
                    // One node at a time: each node is upgraded before the next one installs.
                    let phases = types.filter { $0 == "upgrade_node_installing" || $0 == "upgrade_node_upgraded" }
                    #expect(phases == Array(repeating: ["upgrade_node_installing", "upgrade_node_upgraded"], count: 3).flatMap { $0 }, "\(types)")
                    let shown = try await client.call(.get, "/api/orch/upgrades/\(upgrade)", token: token)
                    #expect(shown["state"] as? String == "succeeded", "\(shown.text)")
                    let shownNodes = shown["nodes"] as? [[String: Any]] ?? []
                    #expect(shownNodes.count == 3 && shownNodes.allSatisfy { $0["phase"] as? String == "upgraded" && $0["method"] as? String == "relup" }, "\(shown.text)")
                    for id in ids {
                        let version = try await Self.version(id, client: client, token: token)
                        #expect(version == "0.2.0", "\(names[id] ?? id) runs 0.2.0's code: \(version)")
                        let releases = "\(try await Self.rpc(id, "release_handler", "which_releases", client: client, token: token) ?? "")"
                        #expect(releases.contains("0.2.0") && releases.contains("permanent"), "\(releases)")
                    }
                    #expect(try await Self.pids(ids, client: client, token: token) == before, "a hot upgrade: no node was restarted")
                    let records = try await OrchestrationTests.nodes(family, server: server, client: client)
                    #expect(records.allSatisfy { $0["release"] as? String == v2 }, "every deployment records 0.2.0: \(records)")

                    // A second upgrade to the same release finds nothing to do.
                    let again = try await client.call(.post, "/api/orch/node_families/\(family)/upgrades", body: json(["release": v2]), token: token)
                    #expect(again.status == .conflict && again.errorCode == "nothing_to_upgrade", "\(again.text)")

                    // The broken 0.3.0: the first node fails its checks and is rolled back; the others are never touched.
                    let broken = try await client.call(.post, "/api/orch/node_families/\(family)/upgrades", body: json(["release": v3]), token: token)
                    #expect(broken.status == .accepted, "\(broken.text)")
                    let brokenID = try #require(broken["id"] as? String)
                    let busy = try await client.call(.post, "/api/orch/node_families/\(family)/upgrades", body: json(["release": v3]), token: token)
                    #expect(busy.status == .conflict && busy.errorCode == "upgrade_running", "\(busy.text)")
                    types = []
                    let failed = try await LifecycleTests.next(&messages) { message in
                        types.append(message["type"] as? String ?? "")
                        return message["type"] as? String == "upgrade_succeeded" || message["type"] as? String == "upgrade_failed"
                    }
                    #expect(failed?["type"] as? String == "upgrade_failed", "\(failed ?? [:])")
                    #expect(types.contains("upgrade_node_rolling_back") && types.contains("upgrade_node_rolled_back"), "\(types)")
                    let result = try await client.call(.get, "/api/orch/upgrades/\(brokenID)", token: token)
                    // The broken node either never comes UP, or comes UP without its application and cannot join: either way it fails at the first node.
                    let resultNodes = result["nodes"] as? [[String: Any]] ?? []
                    #expect(resultNodes.map { $0["phase"] as? String ?? "" } == ["rolled_back", "pending", "pending"], "\(result.text)")
                    let first = try #require(resultNodes.first?["id"] as? String)
                    #expect(result["state"] as? String == "failed" && (result["reason"] as? String ?? "").hasPrefix(first.lowercased() + ": "), "\(result.text)")
                    let back = try await eventually(within: .seconds(30)) {
                        try await OrchestrationTests.peers(first, server: server, client: client) == Set(names.values).subtracting([names[first] ?? ""])
                    }
                    #expect(back, "the rolled back node is in its cluster again")
                    for id in ids {
                        let version = try await Self.version(id, client: client, token: token)
                        #expect(version == "0.2.0", "\(names[id] ?? id) runs 0.2.0: \(version)")
                    }
                    let after = try await Self.pids(ids, client: client, token: token)
                    #expect(after[first] != before[first], "the first node was restarted (onto 0.3.0, then back)")
                    #expect(ids.filter { $0 != first }.allSatisfy { after[$0] == before[$0] }, "the other two were never touched")
                    let listedUpgrades = try await client.call(.get, upgrades, token: token)["items"] as? [[String: Any]] ?? []
                    #expect(listedUpgrades.map { $0["state"] as? String ?? "" } == ["succeeded", "failed"], "oldest first")
                    let finalRecords = try await OrchestrationTests.nodes(family, server: server, client: client)
                    #expect(finalRecords.allSatisfy { $0["release"] as? String == v2 && $0["status"] as? String == "UP" }, "\(finalRecords)")
                }
                watcher.cancel()
                await watcher.value
                let (samples, least) = quorum.result
                print("rolling upgrade watcher: \(samples) conclusive samples, least connected group \(least), \(quorum.inconclusiveSamples.count) inconclusive, \(quorum.listFailures.count) unlisted")
                #expect(samples > 20, "the watcher sampled the cluster throughout (\(samples) samples)")
                #expect(least >= 2, "at least 2 of 3 nodes were UP and connected at every sample (least: \(least); the worst: \(quorum.worst))")
                #expect(quorum.listFailures.count <= 2, "the family's nodes could not be listed in \(quorum.listFailures.count) samples: \(quorum.listFailures)")
                let inconclusive = quorum.inconclusiveSamples
                #expect(inconclusive.count <= max(2, samples / 10), "\(inconclusive.count) samples (of \(samples) conclusive) had an UP node unread: \(inconclusive)")

                for id in ids {
                    #expect(try await client.call(.delete, "/api/orch/nodes/\(id)", token: token).status == .noContent)
                }
                #expect(try await client.call(.delete, "/api/orch/node_families/\(family)", token: token).status == .noContent)
                #expect(!FileManager.default.fileExists(atPath: root), "nothing is left on the hosts")
                // Nor of relx's run_erl, which keeps a daemon's pipes outside the release.
                let pipes = names.values.map { "/tmp/erl_pipes/" + $0 }
                #expect(pipes.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "\(pipes.filter { FileManager.default.fileExists(atPath: $0) })")
            }
        }
    }

    @Test("a server stopped in the middle of an upgrade: started again, it rolls the node in flight back and fails the upgrade; the other node is never touched")
    func serverStoppedMidUpgrade() async throws {
        let key = SSHKeyPair.generate()
        let archives = try await DemoUpgrades.archives()
        try await TestHosts.with(count: 2, authorizedKeys: [key.authorizedKey]) { hosts in
            let first = try await TestServer()
            let root = hosts.directory.appendingPathComponent("pool").path
            let (ids, upgrade, pids) = try await first.server.makeApplication().test(.router) { client -> ([String], String, [String: String]) in
                let token = first.adminToken
                let v1 = try await Self.upload(archives.v1, version: "0.1.0", server: first, client: client)
                let v3 = try await Self.upload(archives.v3, version: "0.3.0", server: first, client: client)
                let provider = try await OrchestrationTests.physicalProvider("Pool", addresses: hosts.hosts.map(\.address), key: key, directory: root,
                                                                             server: first, client: client)
                let family = try await OrchestrationTests.family("Interrupted", release: v1, server: first, client: client)
                #expect(try await client.call(.post, "/api/orch/node_families/\(family)/domains",
                                              body: json(["provider": provider, "ssh_user": "root", "vdisk": "1", "hw_profile": "1"]), token: token).status == .created)
                #expect(try await client.call(.post, "/api/orch/node_families/\(family)/nodes", body: json(["amount": 2]), token: token).status == .accepted)
                var listed: [[String: Any]] = []
                let allUp = try await eventually(within: .seconds(180)) {
                    listed = try await OrchestrationTests.nodes(family, server: first, client: client)
                    return listed.count == 2 && listed.allSatisfy { $0["step"] as? String == "done" && $0["status"] as? String == "UP" }
                }
                try #require(allUp, "\(listed)")
                let ids = listed.compactMap { $0["id"] as? String }
                let pids = try await Self.pids(ids, client: client, token: token)
                let started = try await client.call(.post, "/api/orch/node_families/\(family)/upgrades", body: json(["release": v3]), token: token)
                let upgrade = try #require(started["id"] as? String, "\(started.text)")
                // Stopped while the first node is being switched (stop, unpack, start: seconds).
                var seen: [String: Any] = [:]
                let switching = try await eventually(within: .seconds(60)) {
                    seen = try await client.call(.get, "/api/orch/upgrades/\(upgrade)", token: token).object
                    return (seen["nodes"] as? [[String: Any]])?.first?["phase"] as? String == "switching"
                }
                try #require(switching, "\(seen)")
                return (ids, upgrade, pids)
            }
            await first.stop()

            let second = try await TestServer(directory: first.directory)
            try await second.server.makeApplication().test(.router) { client in
                let token = second.adminToken
                var shown: [String: Any] = [:]
                let ended = try await eventually(within: .seconds(240)) {
                    shown = try await client.call(.get, "/api/orch/upgrades/\(upgrade)", token: token).object
                    return shown["state"] as? String != "running"
                }
                #expect(ended && shown["state"] as? String == "failed", "\(shown)")
                let nodes = shown["nodes"] as? [[String: Any]] ?? []
                #expect(nodes.map { $0["phase"] as? String ?? "" } == ["rolled_back", "pending"], "\(shown)")
                #expect((shown["reason"] as? String ?? "").contains("interrupted during switching: the server running the upgrade stopped"), "\(shown)")
                let first = nodes.first?["id"] as? String ?? ""
                let other = nodes.last?["id"] as? String ?? ""
                for id in ids {
                    let up = try await eventually(within: .seconds(60)) {
                        try await client.call(.get, "/api/orch/nodes/\(id)", token: token)["status"] as? String == "UP"
                    }
                    #expect(up, "\(id) is UP")
                    let script = "\(try await Self.rpc(id, "init", "script_id", client: client, token: token) ?? "")"
                    #expect(script.contains("0.1.0"), "\(id) runs 0.1.0: \(script)")
                }
                let after = try await Self.pids(ids, client: client, token: token)
                #expect(after[other] == pids[other], "the other node was never touched")
                #expect(after[first] != pids[first], "the first node was stopped, and started again on 0.1.0")
                for id in ids {
                    #expect(try await client.call(.delete, "/api/orch/nodes/\(id)", token: token).status == .noContent)
                }
            }
            await second.remove()
            #expect(!FileManager.default.fileExists(atPath: root), "nothing is left on the hosts")
        }
    }
}

/// The watcher's findings: how many samples, and the smallest connected group of reachable UP
/// nodes seen (and that sample).
final class Quorum: Sendable {
    private let state = NIOLockedValueBox((samples: 0, least: Int.max, worst: "", listFailures: [String](), inconclusive: [String]()))

    /// A sample left out: the family's nodes could not be listed (why).
    func listFailed(_ why: String) { state.withLockedValue { $0.listFailures.append(why) } }
    var listFailures: [String] { state.withLockedValue { $0.listFailures } }

    /// A sample left out: an UP node's view could not be read, for a reason other than Numbat
    /// having no connection to it (which nodes, and why).
    func inconclusive(_ why: String) { state.withLockedValue { $0.inconclusive.append(why) } }
    var inconclusiveSamples: [String] { state.withLockedValue { $0.inconclusive } }

    /// `sees`: each UP node's `nodes()`; a node missing from it is not connected to Numbat, and is in no group.
    func sample(up stored: [String], names: [String: String], sees read: [String: Set<String>]) {
        let up = stored.filter { read[$0] != nil }
        // The largest set of reachable UP nodes in which every node sees every other.
        var best = up.isEmpty ? 0 : 1
        let count = up.count
        for mask in 1..<(1 << count) {
            let group = (0..<count).filter { mask & (1 << $0) != 0 }.map { up[$0] }
            guard group.count > best else { continue }
            let connected = group.allSatisfy { a in group.allSatisfy { b in a == b || (read[a] ?? []).contains(names[b] ?? "") } }
            if connected { best = group.count }
        }
        state.withLockedValue { state in
            state.samples += 1
            if best < state.least {
                (state.least, state.worst) = (best, "stored UP \(stored.map { names[$0] ?? $0 }), not connected \(stored.filter { read[$0] == nil }.map { names[$0] ?? $0 }), seeing \(read)")
            }
        }
    }

    var result: (samples: Int, least: Int) { state.withLockedValue { ($0.samples, $0.least) } }
    var worst: String { state.withLockedValue { $0.worst } }
}

extension RollingUpgradeTests {
    /// The family's nodes as the API lists them; throws unless it answered 200.
    static func familyNodes(_ family: String, server: TestServer, client: any TestClientProtocol) async throws -> [[String: Any]] {
        let answer = try await client.call(.get, "/api/orch/node_families/\(family)/nodes", token: server.adminToken)
        guard answer.status == .ok, let items = answer["items"] as? [[String: Any]] else {
            throw QuorumReadFailed(status: answer.status.code, text: String(answer.text.prefix(300)))
        }
        return items
    }

    /// A node's `erlang:nodes()` through the API's rpc; throws unless the call answered 200.
    static func peers(_ node: String, server: TestServer, client: any TestClientProtocol) async throws -> Set<String> {
        let answer = try await client.call(.post, "/api/nodes/\(node)/rpc", body: json(["module": "erlang", "function": "nodes", "args": [], "timeout_ms": 10000]),
                                           token: server.adminToken)
        guard answer.status == .ok else { throw QuorumReadFailed(status: answer.status.code, text: String(answer.text.prefix(300))) }
        return Set((answer["result"] as? [[String: String]] ?? []).compactMap { $0["atom"] })
    }
}

struct QuorumReadFailed: Error {
    let status: Int
    let text: String
}
