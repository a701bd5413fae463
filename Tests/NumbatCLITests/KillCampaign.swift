import ErlangDist
import Foundation
import NumbatTestSupport

/// Issue 17 item 3, "killed servers lose nothing": `numbat serve` killed with SIGKILL at random
/// moments while it ingests metrics of many nodes, a log flood, alarms raised, cleared and
/// acknowledged, audited rpcs, and, on some kills, a deployment in progress; restarted each time
/// on the same store. After every restart the `KillLedger` (what the API acknowledged before
/// the kill) is checked against the API, the store passed an integrity check while the server
/// was down, and a deployment cut short must end resumed or failed with nothing orphaned.
///
/// Real peers throughout: OTP 25 nodes, `numbat-sim` nodes, sshd in a network namespace, the
/// real store (SQLite's `PRAGMA integrity_check`, PostgreSQL's `pg_amcheck`). Every wait is on
/// an event within a generous bound; the moments of the kills come from a seeded generator
/// whose seed is printed (`NUMBAT_KILL_CAMPAIGN_SEED` replays them).
struct KillCampaign {
    struct Settings {
        var kills = 20
        var seed = UInt64.random(in: 1...UInt64(UInt32.max))
        var realNodes = 3
        var simulatedNodes = 40
        /// The longest ingest between a restart's nodes all UP and the snapshot (ms); the kill
        /// then comes 0-1.5 s after the snapshot.
        var ingestMilliseconds = 2000
        /// Kills that come during a deployment: those whose number is 3 modulo this (0: none).
        var deploymentEvery = 5
        var metrics = ["memory_total", "process_count", "reductions"]

        /// The defaults, overridden by `NUMBAT_KILL_CAMPAIGN_KILLS`, `_SEED`, `_SIMULATED`,
        /// `_INGEST_MS` and `_DEPLOY_EVERY`: the longer campaign of docs/reliability.md.
        static func fromEnvironment(kills: Int, deploymentEvery: Int) -> Settings {
            let environment = ProcessInfo.processInfo.environment
            func value(_ name: String) -> String? { environment["NUMBAT_KILL_CAMPAIGN_" + name] }
            var settings = Settings()
            settings.kills = value("KILLS").flatMap(Int.init) ?? kills
            settings.seed = value("SEED").flatMap(UInt64.init) ?? settings.seed
            settings.simulatedNodes = value("SIMULATED").flatMap(Int.init) ?? settings.simulatedNodes
            settings.ingestMilliseconds = value("INGEST_MS").flatMap(Int.init) ?? settings.ingestMilliseconds
            settings.deploymentEvery = value("DEPLOY_EVERY").flatMap(Int.init) ?? deploymentEvery
            return settings
        }

        func deploys(at kill: Int) -> Bool { deploymentEvery > 0 && kill % deploymentEvery == 3 % deploymentEvery }
        var deployments: Int { (1...max(1, kills)).filter(deploys(at:)).count }
    }

    enum Store {
        case sqlite
        case postgres(PostgresServer)

        var name: String {
            switch self {
            case .sqlite: return "SQLite"
            case .postgres: return "PostgreSQL"
            }
        }
    }

    /// What a campaign measured.
    struct Report {
        var kills = 0
        var losses: [String] = []
        var integrity: [String] = []
        var deploymentProblems: [String] = []
        /// Item checks over every restart, and the distinct items checked at the end.
        var checks = KillLedger.Findings()
        var distinct = KillLedger.Findings()
        var acknowledgementsAnswered = 0
        var rpcsAnswered = 0
        /// Audited rpcs whose answer was not a 200 here (a failed call, or an answer cut by a kill).
        var unansweredAudit = ""
        var unflushed = 0
        var oldestUnflushed: TimeInterval = 0
        /// SIGKILL -> listening again, and listening -> every node UP (seconds).
        var restarts: [Double] = []
        var upAgain: [Double] = []
        var deployments: [String] = []
        /// Deployments that had settled before their kill came (not in progress then).
        var settledBeforeKill = 0
        var lines: [String] = []
        var duration: Duration = .zero
    }

    let settings: Settings
    let store: Store

    /// Runs the campaign; every process, namespace and file it made is gone when it returns.
    func run() async throws -> Report {
        let started = ContinuousClock.now
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-kill-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let key = work.appendingPathComponent("id_ed25519").path
        guard try await ChildProcess.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status == 0 else {
            throw CampaignAPI.Failure(description: "ssh-keygen failed")
        }
        let authorized = try String(contentsOfFile: key + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        print("kill campaign (\(store.name)): seed \(settings.seed) (NUMBAT_KILL_CAMPAIGN_SEED=\(settings.seed) replays the moments), \(settings.kills) kills, "
              + "\(settings.realNodes) OTP nodes + \(settings.simulatedNodes) simulated, \(settings.deployments) during a deployment")
        var report = try await TestNode.withNodes(settings.realNodes, release: .otp25, cookie: "kill-campaign-cookie") { peers in
            let (simulator, simulated) = try await CampaignSimulator.start(count: settings.simulatedNodes)
            do {
                let report = try await Self.withHosts(settings.deployments > 0, authorized) { hosts in
                    try await campaign(work: work, peers: peers, simulated: simulated, hosts: hosts)
                }
                await simulator.stop()
                return report
            } catch {
                await simulator.stop()
                throw error
            }
        }
        report.duration = ContinuousClock.now - started
        return report
    }

    static func withHosts<T>(_ needed: Bool, _ key: String, _ body: (TestHosts?) async throws -> T) async throws -> T {
        guard needed else { return try await body(nil) }
        return try await TestHosts.with(count: 1, authorizedKeys: [key]) { try await body($0) }
    }

    private func campaign(work: URL, peers: [TestNode], simulated: [String], hosts: TestHosts?) async throws -> Report {
        let data = work.appendingPathComponent("data")
        let port = try freePort(onAll: ["127.0.0.1"])
        let base = "http://127.0.0.1:\(port)"
        var arguments = ["serve", "--port", "\(port)", "--data-dir", data.path, "--node-name", "numbatkill\(UInt32.random(in: 0...UInt32.max))",
                         "--metrics-interval", "1", "--reconnect-initial", "0.2", "--reconnect-max", "1", "--log-level", "warning"]
        if case .postgres(let postgres) = store {
            try await postgres.createDatabase("numbat")
            arguments += ["--store", postgres.url(database: "numbat")]
        }
        var report = Report()
        var random = SeededRandom(seed: settings.seed)
        let ledger = KillLedger()
        let traffic = CampaignTraffic(base: base, ledger: ledger)
        let since = Date().addingTimeInterval(-5)
        var server = try await ServeProcess.start(arguments)
        do {
            for peer in peers { try await Self.add(base, peer.name.description, peer.cookie) }
            for node in simulated { try await Self.add(base, node, CampaignSimulator.cookie) }
            let listed = try await API.get(NodeList.self, base, "/api/topo/nodes").nodes
            let ids = listed.map(\.id)
            let peerIDs = peers.compactMap { peer in listed.first { $0.name == peer.name.description }?.id }
            _ = try await allUp(base, ids)
            let observer = try LocalNode(.init(name: "killobserver\(UInt32.random(in: 0...UInt32.max))", cookie: peers[0].cookie))
            defer { Task { await observer.shutdown() } }
            for peer in peers { try await CampaignTraffic.startNodeLoops(on: peer.name, observer: observer) }
            traffic.start(rpcNodes: peerIDs)
            let deployment = try await hosts.asyncMap { try await CampaignDeployment.prepare(base, hosts: $0, work: work) }
            var listening = ContinuousClock.now

            for kill in 1...settings.kills {
                let up = try await allUp(base, ids, since: listening)
                if kill > 1 { report.upAgain.append(up) }
                try await Task.sleep(for: .milliseconds(random.int(200...max(200, settings.ingestMilliseconds))))
                try await ledger.snapshot(base, nodes: ids, metrics: settings.metrics, since: since)
                var deploying: (node: String, target: String)?
                var stepAtKill = ""
                if settings.deploys(at: kill), let deployment {
                    let target = random.element(of: CampaignDeployment.steps)
                    let node = try await deployment.deploy(base)
                    deploying = (node, target)
                    stepAtKill = try await deployment.reach(base, node, target)
                    try await Task.sleep(for: .milliseconds(random.int(0...300)))
                } else {
                    try await Task.sleep(for: .milliseconds(random.int(0...1500)))
                }

                await server.kill()
                let killedAt = Date()
                // What the killed run logged at error level (warnings are routine: nodes going away).
                let errors = server.output.split(separator: "\n").filter { $0.contains("error") || $0.contains("Fatal") }
                for line in errors.prefix(5) { print("kill campaign (\(store.name)): kill \(kill): the killed run logged: \(line.prefix(400))") }
                let integrity = try await integrityCheck(data)
                if integrity != "ok" { report.integrity.append("kill \(kill): \(integrity)") }
                let restarted = ContinuousClock.now
                server = try await ServeProcess.start(arguments)
                listening = ContinuousClock.now
                report.restarts.append(Self.seconds(listening - restarted))

                let findings = try await ledger.check(base, nodes: ids, metrics: settings.metrics, since: since, killedAt: killedAt)
                report.kills += 1
                report.add(findings, kill: kill)
                var line = "kill \(kill): SIGKILL; store \(integrity); started again, listening in \(String(format: "%.2f", report.restarts.last!)) s; "
                    + "checked \(findings.points) points, \(findings.notifications) new notifications, \(findings.alarmTransitions) alarm transitions, "
                    + "\(findings.acknowledgements) acknowledgements, \(findings.auditEntries) new audit entries: \(findings.losses.count) lost; "
                    + "\(findings.unflushed) points shown as not yet written gone"
                    + (findings.unflushed > 0 ? String(format: " (oldest %.2f s)", findings.oldestUnflushed) : "")
                if let deploying, let deployment {
                    let shown = try await deployment.settle(base, deploying.node)
                    let problems = try await deployment.problems(deploying.node, shown)
                    report.deploymentProblems += problems.map { "kill \(kill): \($0)" }
                    if ["done", "failed"].contains(stepAtKill) { report.settledBeforeKill += 1 }
                    let outcome = "aimed at \(deploying.target), killed at \(stepAtKill): \(shown.step)"
                        + (shown.step == "failed" ? " (\(shown.last_error ?? shown.message ?? ""))" : " and UP")
                        + String(format: " %.1f s after the restart", Self.seconds(ContinuousClock.now - listening))
                    report.deployments.append(outcome)
                    line += "; deployment \(outcome)" + (problems.isEmpty ? ", nothing orphaned" : ": \(problems)")
                    try await deployment.delete(base, deploying.node)
                }
                report.lines.append(line)
                print("kill campaign (\(store.name)): " + line)
                for loss in findings.losses.prefix(20) { print("  LOST: \(loss)") }
            }

            // The last restart's ingest, then every item the ledger holds, checked once more.
            if settings.kills > 0 { report.upAgain.append(try await allUp(base, ids, since: listening)) }
            try await Task.sleep(for: .milliseconds(settings.ingestMilliseconds))
            try await ledger.snapshot(base, nodes: ids, metrics: settings.metrics, since: since)
            await traffic.stop()
            let final = try await ledger.check(base, nodes: ids, metrics: settings.metrics, since: since, killedAt: nil)
            report.losses += final.losses.map { "final check: \($0)" }
            report.distinct = final
            (report.acknowledgementsAnswered, report.rpcsAnswered) = traffic.answered
            report.unansweredAudit = ledger.unansweredAudit
            await server.terminate()
            let integrity = try await integrityCheck(data)
            if integrity != "ok" { report.integrity.append("after the last stop: \(integrity)") }
            if let deployment {
                let left = try await deployment.beams()
                if !left.isEmpty { report.deploymentProblems.append("BEAMs left on the host at the end: \(left)") }
            }
        } catch {
            await traffic.stop()
            // The log from its first fatal line, if any (a crash's reason comes before its backtrace).
            let log = server.output
            let fatal = log.range(of: "Fatal error").map { String(log[$0.lowerBound...].prefix(6000)) } ?? String(log.suffix(4000))
            print("kill campaign (\(store.name)) failed: \(error)\nserver log (running: \(server.isRunning)):\n\(fatal)")
            await server.kill()
            throw error
        }
        return report
    }

    /// Adds a node through the API.
    static func add(_ base: String, _ node: String, _ cookie: String) async throws {
        let (status, answer) = try await API.call("POST", base, "/api/actions/add-node", body: ["node": node, "cookie": cookie])
        guard status == 201 else { throw CampaignAPI.Failure(description: "adding \(node): \(status) \(String(describing: answer))") }
    }

    /// Waits until every one of `ids` is UP and, on PostgreSQL (a cluster store), leased by the
    /// one live server: a restarted server takes its nodes once its killed run's leases have
    /// expired, and until then the API shows them UP from the dead run's records. The seconds
    /// since `since`.
    @discardableResult
    func allUp(_ base: String, _ ids: [UUID], since: ContinuousClock.Instant = .now) async throws -> Double {
        var down: [String] = []
        let cluster: Bool
        if case .postgres = store { cluster = true } else { cluster = false }
        let up = try await eventually(within: .seconds(180), every: .milliseconds(100)) {
            guard let nodes = try? await API.get(NodeList.self, base, "/api/topo/nodes").nodes else { return false }
            let wanted = Set(ids)
            down = nodes.filter { wanted.contains($0.id) && $0.state != "UP" }.map { "\($0.name) \($0.state)" }
            guard down.isEmpty, nodes.filter({ wanted.contains($0.id) }).count == ids.count else { return false }
            guard cluster else { return true }
            guard let view = try? await API.get(ClusterView.self, base, "/api/cluster") else { return false }
            let live = view.servers.filter(\.alive)
            down = ["leased by \(live.count) live servers"]
            return live.count == 1 && wanted.isSubset(of: Set(live[0].nodes))
        }
        guard up else { throw CampaignAPI.Failure(description: "nodes not UP again: \(down)") }
        return Self.seconds(ContinuousClock.now - since)
    }

    /// The store's own integrity check, with the server down: SQLite's `PRAGMA integrity_check`
    /// on a copy of the database and its WAL as the kill left them (the copy, so the check's own
    /// recovery of the WAL does not change what the restart finds), PostgreSQL's `pg_amcheck` of
    /// every table and index. "ok", or what they reported.
    func integrityCheck(_ data: URL) async throws -> String {
        switch store {
        case .sqlite:
            let copy = data.deletingLastPathComponent().appendingPathComponent("integrity-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: copy) }
            for name in ["numbat.sqlite", "numbat.sqlite-wal"] where FileManager.default.fileExists(atPath: data.appendingPathComponent(name).path) {
                try FileManager.default.copyItem(at: data.appendingPathComponent(name), to: copy.appendingPathComponent(name))
            }
            let checked = try await ChildProcess.run("/usr/bin/sqlite3", [copy.appendingPathComponent("numbat.sqlite").path,
                                                                          "PRAGMA integrity_check; PRAGMA foreign_key_check;"])
            let output = checked.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            return checked.status == 0 && output == "ok" ? "ok" : "sqlite3 exit \(checked.status): \(output) \(checked.standardError)"
        case .postgres(let postgres):
            let checked = try await ChildProcess.run(PostgresServer.binaries.appendingPathComponent("pg_amcheck").path, [
                "-h", "127.0.0.1", "-p", "\(postgres.port)", "-U", PostgresServer.user, "--install-missing", "--heapallindexed", "-d", "numbat",
            ])
            // Its NOTICE that the amcheck extension is installed already is no finding.
            let output = (checked.standardOutput + checked.standardError).split(separator: "\n")
                .filter { !$0.hasPrefix("NOTICE:") }.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            return checked.status == 0 && output.isEmpty ? "ok" : "pg_amcheck exit \(checked.status): \(output)"
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension KillCampaign.Report {
    mutating func add(_ findings: KillLedger.Findings, kill: Int) {
        losses += findings.losses.map { "kill \(kill): \($0)" }
        checks.points += findings.points
        checks.notifications += findings.notifications
        checks.alarmTransitions += findings.alarmTransitions
        checks.acknowledgements += findings.acknowledgements
        checks.auditEntries += findings.auditEntries
        unflushed += findings.unflushed
        oldestUnflushed = max(oldestUnflushed, findings.oldestUnflushed)
    }

    /// The figures, as docs/reliability.md gives them.
    var summary: String {
        func spread(_ values: [Double]) -> String {
            let sorted = values.sorted()
            guard let first = sorted.first, let last = sorted.last else { return "-" }
            return String(format: "min %.2f s, median %.2f s, max %.2f s", first, sorted[sorted.count / 2], last)
        }
        return """
            \(kills) kills in \(duration); losses: \(losses.count); integrity failures: \(integrity.count); deployment problems: \(deploymentProblems.count)
            checked after the restarts: \(checks.points) metric points, \(checks.notifications) notifications, \(checks.alarmTransitions) alarm transitions, \(checks.acknowledgements) acknowledgements, \(checks.auditEntries) audit entries
            distinct items, all checked again at the end: \(distinct.points) metric points, \(distinct.notifications) notifications, \(distinct.alarmTransitions) alarm transitions, \(distinct.acknowledgements) acknowledgements (\(acknowledgementsAnswered) answered 200), \(distinct.auditEntries) audit entries (\(rpcsAnswered) rpcs answered 200; other entries: \(unansweredAudit))
            points shown as not yet written, gone after a kill: \(unflushed), the oldest \(String(format: "%.2f", oldestUnflushed)) s before its kill
            restart -> listening: \(spread(restarts)); listening -> every node UP again: \(spread(upAgain))
            deployments (\(deployments.count - settledBeforeKill) in progress at their kill): \(deployments.joined(separator: "; "))
            """
    }
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
