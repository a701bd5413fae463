import ErlangTerm
import Foundation
import NumbatCore
import NumbatProviders

/// The per-node part of a rolling upgrade: one deployed node moved onto `target`, checked, and
/// (on failure) put back on the release it ran. The node's directory is copied to
/// `<dir>.rollback` before anything changes, so a rollback is: stop, restore the copy, start.
///
/// The switch is a hot upgrade when the archive has `releases/<vsn>/relup` (rebar3 relup): the
/// new version's files are unpacked beside the running one (never its `RELEASES` or
/// `start_erl.data`, which release_handler keeps), then `release_handler:set_unpacked/2`,
/// `install_release/1` on the node, and `make_permanent/1` once its checks pass; the node never
/// stops. Otherwise (or when the relup has no way up from the running version): stop command,
/// the whole archive unpacked over the directory, start command, UP, rejoined.
struct NodeUpgrade: Sendable {
    let service: OrchestrationService
    /// The node's deployment as it is (its current release).
    let current: NodeDeployment
    /// The same node with the target release: its archive path, templates, commands.
    let target: NodeDeployment

    var nodeID: UUID { current.nodeID }
    var directory: String { current.directory }
    var backup: String { current.directory + ".rollback" }

    /// What happened to the node, for the plan.
    typealias Report = @Sendable (RollingUpgradePlan.Event) async -> Void

    /// Installs, switches and checks; throws with the reason on the first failure.
    func run(report: Report) async throws {
        guard var record = try await service.records.load(DeploymentRecord.self, id: nodeID) else {
            throw NumbatError.notFound("deployment_not_found", "node \(nodeID.uuidString.lowercased()) was not deployed by Numbat")
        }
        await report(.phase(.installing))
        let ssh = try await current.connect(&record)
        defer { Task { await ssh.close() } }
        try await target.upload(ssh)
        let dir = ShellQuote.quote(directory)
        let copy = ShellQuote.quote(backup)
        try await ssh.check("rm -rf \(copy) && cp -a \(dir) \(copy)", doing: "keeping a copy of the node's directory for rollback")
        let relup = "releases/\(target.release.version)/relup"
        let hasRelup = try await ssh.run("tar tzf \(ShellQuote.quote(target.cachedArchive)) \(ShellQuote.quote(relup)) >/dev/null 2>&1").succeeded
        let node = try await managedNode()
        let hot = hasRelup && target.release.releaseName == current.release.releaseName && node.state == .up
        if hot, try await hotSwitch(ssh, node: node, report: report) {
            try await check(expecting: target.release)
            // Permanent only once it works: until then a restart boots the old version.
            let permanent = try await service.context.nodes.rpc(try await managedNode(), "release_handler", "make_permanent",
                                                                 [.string(target.release.version)], timeout: .seconds(60))
            guard permanent == .atom("ok") else {
                throw NumbatError(.unavailable, "make_permanent_failed", "release_handler:make_permanent(\"\(target.release.version)\") returned \(permanent.erlangDescription)")
            }
            try await setRelease(target.release.id)
            return
        }
        await report(.phase(.switching, method: "restart"))
        try await service.stopNode(nodeID)
        try await ssh.check("tar xzf \(ShellQuote.quote(target.cachedArchive)) -C \(dir)", doing: "unpacking \(target.release.name) \(target.release.version)")
        try await target.writeTemplates(ssh, name: node.name)
        try await setRelease(target.release.id)
        await report(.phase(.checking))
        try await service.startNode(nodeID)
        try await check(expecting: target.release)
    }

    /// The hot upgrade; false when the relup has no way up from the running version (the
    /// switch is then a restart).
    private func hotSwitch(_ ssh: any RemoteShell, node: ManagedNode, report: Report) async throws -> Bool {
        await report(.phase(.switching, method: "relup"))
        let vsn = target.release.version
        try await ssh.check("tar xzf \(ShellQuote.quote(target.cachedArchive)) -C \(ShellQuote.quote(directory)) --exclude=releases/RELEASES --exclude=releases/start_erl.data",
                            doing: "unpacking \(target.release.name) \(vsn) beside the running release")
        try await target.writeTemplates(ssh, name: node.name)
        let nodes = service.context.nodes
        guard let root = try await nodes.rpc(node, "code", "root_dir").stringValue else {
            throw NumbatError(.unavailable, "no_root_dir", "code:root_dir() on \(node.name) gave no directory")
        }
        let relFile = "\(root)/releases/\(vsn)/\(target.release.releaseName).rel"
        let unpacked = try await nodes.rpc(node, "release_handler", "set_unpacked", [.string(relFile), .emptyList], timeout: .seconds(60))
        let known = unpacked[element: 0] == .atom("error") && unpacked[element: 1]?[element: 0] == .atom("existing_release")
        guard unpacked[element: 0] == .atom("ok") || known else {
            throw NumbatError(.unavailable, "set_unpacked_failed", "release_handler:set_unpacked(\"\(relFile)\", []) returned \(unpacked.erlangDescription)")
        }
        let installed = try await nodes.rpc(node, "release_handler", "install_release", [.string(vsn)], timeout: .seconds(120))
        if installed[element: 0] == .atom("error"), installed[element: 1]?[element: 0] == .atom("no_such_from_vsn") {
            return false
        }
        guard installed[element: 0] == .atom("ok") else {
            throw NumbatError(.unavailable, "install_release_failed", "release_handler:install_release(\"\(vsn)\") returned \(installed.erlangDescription)")
        }
        await report(.phase(.checking))
        return true
    }

    /// Waits until the node is UP in Numbat, connected to every other UP member of its family,
    /// and runs `release`: its boot script is the release's (after a restart), or
    /// release_handler has it `current` or `permanent` (after a hot upgrade).
    func check(expecting release: ReleaseRecord) async throws {
        let deadline = ContinuousClock.now + service.settings.upgradeCheckTimeout
        var problem = "not UP"
        while ContinuousClock.now < deadline {
            try Task.checkCancellation()
            if let why = try await problems(expecting: release) {
                problem = why
            } else {
                return
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw NumbatError(.timeout, "checks_failed", "the node's checks did not pass within \(service.settings.upgradeCheckTimeout): \(problem)")
    }

    /// What is still wrong with the node, nil when nothing is.
    private func problems(expecting release: ReleaseRecord) async throws -> String? {
        guard let node = try await service.store.node(id: nodeID) else { return "the node is gone" }
        guard node.state == .up else { return "the node is \(node.state.rawValue)\(node.lastError.map { " (\($0))" } ?? "")" }
        let nodes = service.context.nodes
        guard let connected = try? await nodes.rpc(node, "erlang", "nodes") else { return "erlang:nodes() did not answer" }
        let names = Set((connected.listElements ?? []).compactMap(\.atomValue).map(\.name))
        var missing: [String] = []
        for member in try await service.records.all(DeploymentRecord.self, parent: current.family.id) where member.id != nodeID {
            if let other = try await service.store.node(id: member.id), other.state == .up, !names.contains(other.name) { missing.append(other.name) }
        }
        if !missing.isEmpty { return "not connected to \(missing.sorted().joined(separator: ", "))" }
        let script = try? await nodes.rpc(node, "init", "script_id")
        if script?[element: 0]?.stringValue == release.releaseName, script?[element: 1]?.stringValue == release.version { return nil }
        let releases = (try? await nodes.rpc(node, "release_handler", "which_releases"))?.listElements ?? []
        let running = releases.contains {
            $0[element: 0]?.stringValue == release.releaseName && $0[element: 1]?.stringValue == release.version
                && ($0[element: 3] == .atom("current") || $0[element: 3] == .atom("permanent"))
        }
        return running ? nil : "it does not run \(release.releaseName) \(release.version) (init:script_id() is \(script?.erlangDescription ?? "unknown"))"
    }

    /// Puts the node back on `release` (what it ran before): when it was touched, stopped, its
    /// directory copy restored, started, and checked; else only the copy removed.
    func rollBack(to release: ReleaseRecord, failedIn: RollingUpgradePlan.Phase?) async throws {
        guard var record = try await service.records.load(DeploymentRecord.self, id: nodeID) else { return }
        let ssh = try await current.connect(&record)
        defer { Task { await ssh.close() } }
        if failedIn == nil || failedIn == .installing || failedIn == .pending {
            _ = try? await ssh.run("rm -rf \(ShellQuote.quote(backup))")
            return
        }
        if let node = try await service.store.node(id: nodeID), node.state == .up || node.state == .down {
            do {
                try await service.stopNode(nodeID)
            } catch {
                // Not running, or its stop command cannot reach it: the directory is restored anyway.
                service.logger.warning("rollback: stop failed", metadata: ["node": "\(nodeID)", "error": "\(error)"])
                await service.context.nodes.unmanage(nodeID)
            }
        }
        try await quiesce(ssh)
        let dir = ShellQuote.quote(directory)
        try await ssh.check("test -d \(ShellQuote.quote(backup)) && { rm -rf \(dir) || { sleep 1; rm -rf \(dir); }; } && mv \(ShellQuote.quote(backup)) \(dir)",
                            doing: "restoring the node's directory")
        try await setRelease(release.id)
        try await service.startNode(nodeID)
        try await check(expecting: release)
    }

    /// Waits until nothing runs from the node's directory any more: a release that failed to
    /// boot may still be exiting (writing its crash dump, run_erl its logs) when Numbat gives
    /// up on it, and its directory is about to be replaced. The release's stop command first,
    /// then up to 30 s for its processes (found by the node's own `nodes/<id>/` in their
    /// command lines) to end, then they are killed.
    private func quiesce(_ ssh: any RemoteShell) async throws {
        let name = (try? await service.store.node(id: nodeID))?.name ?? nodeID.uuidString.lowercased()
        _ = try? await ssh.run("cd \(ShellQuote.quote(directory)) && \(try await current.environment(name: name)) \(current.release.stopCommand)",
                               timeout: .seconds(60))
        // `[n]odes/...` matches the node's processes but not this shell's own command line.
        let pattern = ShellQuote.quote("[n]odes/\(nodeID.uuidString.lowercased())/")
        _ = try await ssh.run("for i in $(seq 1 60); do pgrep -f \(pattern) >/dev/null || exit 0; sleep 0.5; done; pkill -KILL -f \(pattern); sleep 1; true",
                              timeout: .seconds(90))
    }

    /// Removes the directory copy once the batch is settled.
    func dropBackup() async {
        guard var record = try? await service.records.load(DeploymentRecord.self, id: nodeID),
              let ssh = try? await current.connect(&record) else { return }
        _ = try? await ssh.run("rm -rf \(ShellQuote.quote(backup))")
        await ssh.close()
    }

    private func managedNode() async throws -> ManagedNode {
        guard let node = try await service.store.node(id: nodeID) else {
            throw NumbatError.notFound("node_not_found", "node \(nodeID.uuidString.lowercased()) is gone")
        }
        return node
    }

    /// Records the release the node runs: its stop and start commands are that release's.
    private func setRelease(_ id: UUID) async throws {
        guard var record = try await service.records.load(DeploymentRecord.self, id: nodeID) else { return }
        record.releaseID = id
        try await service.records.save(record)
    }
}
