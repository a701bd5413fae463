import Foundation
import NumbatTestSupport

/// The deployment in progress when some of the kills come: the demo release deployed by a
/// physical provider onto a namespace host over SSH (as `DeployCLITests` does), one node at a
/// time. After the restart it must end `done` and UP (resumed) or `failed` with its reason, and
/// the host must run no BEAM and keep no node directory that no deployment accounts for.
struct CampaignDeployment {
    static let cookie = "kill-campaign-release"
    /// The steps a kill is aimed at (the first moment the API shows one at or after it).
    /// (Bootstrapping is too short to be caught by polling: aimed at, the kill found it done.)
    static let steps = ["uploading", "unpacking", "starting", "connecting_node"]
    static let order = ["creating_instance", "connecting", "uploading", "unpacking", "starting", "connecting_node", "bootstrapping", "done", "failed"]

    let hosts: TestHosts
    let family: String
    let provider: String
    /// The provider's directory on the host (the hosts share this machine's file system).
    let root: String

    /// Uploads the demo release and makes the provider, the family and its domain through the CLI.
    /// The start command waits a second after starting the node, so that a kill aimed at
    /// `starting` finds it there.
    static func prepare(_ base: String, hosts: TestHosts, work: URL) async throws -> CampaignDeployment {
        let key = work.appendingPathComponent("id_ed25519").path
        let archive = try await DemoRelease.archiveFile()
        func numbat(_ arguments: String...) async throws -> String {
            let run = try await ChildProcess.run(CLITests.numbat, arguments, environment: ProcessInfo.processInfo.environment.merging(
                ["NUMBAT_URL": base, "NUMBAT_RELEASE_COOKIE": cookie]) { $1 })
            guard run.status == 0 else { throw CampaignAPI.Failure(description: "numbat \(arguments.joined(separator: " ")): \(run.standardOutput) \(run.standardError)") }
            return run.standardOutput
        }
        func id(_ output: String, after word: String) -> String {
            output.components(separatedBy: " ").drop { $0 != word }.dropFirst().first ?? ""
        }
        let release = id(try await numbat("release", "upload", archive.path, "--name", "demo", "--start-cmd", "bin/numbat_demo daemon && sleep 1",
                                          "--stop-cmd", "bin/numbat_demo stop", "--template", "releases/0.1.0/vm.args"), after: "release")
        let root = work.appendingPathComponent("hosts").path
        let provider = id(try await numbat("provider", "add", "physical", "lab", "--host", hosts.hosts[0].address, "--directory", root,
                                           "--private-key", key), after: "provider")
        let family = id(try await numbat("family", "create", "kill campaign", "--bootstrap-cmd", "bin/bootstrap"), after: "family")
        _ = try await numbat("family", "release", family, release)
        _ = try await numbat("family", "domain", family, "--provider", provider, "--ssh-user", "root")
        return CampaignDeployment(hosts: hosts, family: family, provider: provider, root: root)
    }

    /// Asks for one node; its id.
    func deploy(_ base: String) async throws -> String {
        let (status, answer) = try await API.call("POST", base, "/api/orch/node_families/\(family)/nodes", body: ["amount": 1, "provider": provider])
        guard status == 202, let node = ((answer as? [String: Any])?["nodes"] as? [String])?.first else {
            throw CampaignAPI.Failure(description: "deploying: \(status) \(String(describing: answer))")
        }
        return node.lowercased()
    }

    /// Waits until the API shows the deployment at `target` or later (or settled); the step seen.
    func reach(_ base: String, _ node: String, _ target: String) async throws -> String {
        let wanted = Self.order.firstIndex(of: target) ?? 0
        var step = ""
        let reached = try await eventually(within: .seconds(180), every: .milliseconds(20)) {
            step = try await CampaignAPI.get(CampaignAPI.Deployed.self, base, "/api/orch/nodes/\(node)").step
            return (Self.order.firstIndex(of: step) ?? 0) >= wanted
        }
        guard reached else { throw CampaignAPI.Failure(description: "deployment \(node) never reached \(target) (at \(step))") }
        return step
    }

    /// Waits (after the restart) until the deployment is done or failed.
    func settle(_ base: String, _ node: String) async throws -> CampaignAPI.Deployed {
        var shown: CampaignAPI.Deployed?
        let settled = try await eventually(within: .seconds(180), every: .milliseconds(200)) {
            let deployed = try await CampaignAPI.read(CampaignAPI.Deployed.self, base, "/api/orch/nodes/\(node)")
            shown = deployed
            return deployed.step == "failed" || (deployed.step == "done" && deployed.status == "UP")
        }
        guard settled, let shown else { throw CampaignAPI.Failure(description: "deployment \(node) did not settle after the restart: \(String(describing: shown))") }
        return shown
    }

    /// The node names (`<id>`) of the BEAMs running on the host. Only `beam.smp` processes
    /// count: the release's start script, cut short by a kill, goes on polling the node with
    /// `erl_call -name <id>@host` until it answers, and those are not a second node.
    func beams() async throws -> [String] {
        try await hosts.processes(in: hosts.hosts[0]).compactMap { pid in
            let line = commandLine(of: pid)
            let program = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            guard program == "beam.smp" else { return nil }
            guard let range = line.range(of: "-name ") else { return nil }
            return line[range.upperBound...].split(separator: " ").first.map { String($0.split(separator: "@").first ?? "") }
        }
    }

    /// The node directories on the host.
    func directories() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root + "/nodes")) ?? []
    }

    /// What is wrong after a settled deployment: a done node runs once, a failed one left no
    /// BEAM and no directory, and nothing else runs or stays on the host.
    func problems(_ node: String, _ shown: CampaignAPI.Deployed) async throws -> [String] {
        var problems: [String] = []
        let running = try await beams()
        let mine = running.filter { $0 == node }.count
        if shown.step == "done" {
            if mine != 1 { problems.append("deployment \(node) is done but \(mine) of its BEAMs run") }
        } else {
            if (shown.last_error ?? shown.message ?? "").isEmpty { problems.append("deployment \(node) failed with no reason") }
            if mine != 0 { problems.append("deployment \(node) failed but \(mine) of its BEAMs run (orphaned)") }
            if directories().contains(node) { problems.append("deployment \(node) failed but its directory is left on the host") }
        }
        for other in running where other != node { problems.append("a BEAM no deployment accounts for runs on the host: \(other)") }
        for other in directories() where other != node { problems.append("a node directory no deployment accounts for is on the host: \(other)") }
        return problems
    }

    /// Deletes the node (which stops it and removes its directory) and waits until the host has
    /// neither.
    func delete(_ base: String, _ node: String) async throws {
        let (status, answer) = try await API.call("DELETE", base, "/api/orch/nodes/\(node)")
        guard (200..<300).contains(status) else { throw CampaignAPI.Failure(description: "deleting \(node): \(status) \(String(describing: answer))") }
        let gone = try await eventually(within: .seconds(60)) {
            try await !beams().contains(node) && !directories().contains(node)
        }
        guard gone else { throw CampaignAPI.Failure(description: "deleted node \(node) is still on the host") }
    }
}
