import ErlangDist
import ErlangTerm
import NumbatServices

/// Records a `SimulatorProfile` from a live node: the probe's answers, then the metrics and
/// alarm agents are injected and started as Numbat does, asked once each (the metrics twice, so
/// utilization covers an interval), and removed again. The node is left as it was found.
public enum ProfileRecorder {
    public static func record(_ node: NodeName, cookie: String) async throws -> SimulatorProfile {
        let local = try LocalNode(.init(name: "numbatsimrec\(UInt32.random(in: 0...UInt32.max))", cookie: cookie))
        let owner = try local.makeMailbox()
        let agents = try ["numbat_metrics_agent", "numbat_alarm_agent"].map { try Agent.named($0) }
        do {
            let profile = try await ask(node, local: local, owner: owner, agents: agents)
            await remove(agents, from: node, local: local)
            await local.shutdown()
            return profile
        } catch {
            await remove(agents, from: node, local: local)
            await local.shutdown()
            throw error
        }
    }

    private static func ask(_ node: NodeName, local: LocalNode, owner: Mailbox, agents: [Agent]) async throws -> SimulatorProfile {
        let release = try await local.rpc(node, "erlang", "system_info", [.atom("otp_release")])
        let script = try await local.rpc(node, "init", "script_id")
        for agent in agents {
            let loaded = try await local.rpc(node, "code", "load_binary", [.atom(agent.module), .string("numbat/\(agent.module.name).beam"), .binary(agent.beam)])
            guard loaded[element: 0] == .atom("module") else { throw ProfileError("\(node) refused \(agent.module.name): \(loaded.erlangDescription)") }
            let started = try await local.rpc(node, agent.module, "start", [.pid(owner.pid(for: node)), .map([:])])
            guard started[element: 0] == .atom("ok") else { throw ProfileError("\(agent.module.name) did not start on \(node): \(started.erlangDescription)") }
        }
        _ = try await local.rpc(node, "numbat_metrics_agent", "collect", [.integer(5000)])
        try await Task.sleep(for: .seconds(1))
        let collect = try await local.rpc(node, "numbat_metrics_agent", "collect", [.integer(5000)])
        let check = try await local.rpc(node, "numbat_alarm_agent", "check", [.map([.atom("max_scan"): .integer(200_000)]), .integer(10_000)])
        return try SimulatorProfile(term: SimulatorProfile(otpRelease: release, scriptID: script, collect: collect, check: check,
                                                           recordedFrom: node.description).term)
    }

    /// Stops the agents and deletes their code, as Numbat does when it lets a node go.
    private static func remove(_ agents: [Agent], from node: NodeName, local: LocalNode) async {
        for agent in agents {
            _ = try? await local.rpc(node, agent.module, "stop", [], timeout: .seconds(5))
            _ = try? await local.rpc(node, "code", "delete", [.atom(agent.module)], timeout: .seconds(5))
            _ = try? await local.rpc(node, "code", "purge", [.atom(agent.module)], timeout: .seconds(5))
        }
    }
}
