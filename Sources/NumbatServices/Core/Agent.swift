import ErlangDist
import ErlangTerm
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// An Erlang module Numbat injects into managed nodes (seed 3.4): compiled from `agents/*.erl`
/// by `scripts/build-agents.sh` and shipped as a resource.
public struct Agent: Sendable {
    public let module: Atom
    public let beam: [UInt8]

    /// The shipped agent `name` (e.g. `numbat_metrics_agent`). Read from the bundle once and
    /// shared: every managed node's workers launch the same few agents, and a copy per launch
    /// (up to 19 KB each, four per node) was read and dropped again for each one.
    public static func named(_ name: String) throws -> Agent {
        if let agent = shipped.withLockedValue({ $0[name] }) { return agent }
        guard let url = Bundle.module.url(forResource: name, withExtension: "beam", subdirectory: "agents"),
              let data = try? Data(contentsOf: url)
        else {
            throw NumbatError(.internalError, "agent_missing", "the agent \(name) is not shipped with this build")
        }
        let agent = Agent(module: Atom(name), beam: [UInt8](data))
        shipped.withLockedValue { $0[name] = agent }
        return agent
    }

    private static let shipped = NIOLockedValueBox<[String: Agent]>([:])

    /// The md5 of each shipped agent's code as nodes of one OTP release compute it
    /// (`beam_lib:md5/1`), keyed by module and release: asked of the first such node, then
    /// known. Without it every (re)connection sent each agent's whole beam (up to 19 KB) to be
    /// hashed, four times per node; a failover reconnects thousands of nodes at once.
    private static let md5s = NIOLockedValueBox<[String: Term]>([:])

    /// The md5 of this agent's code on nodes of `otpRelease`, from the cache or from `ask`.
    func md5(onRelease otpRelease: String?, ask: () async throws -> Term) async throws -> Term {
        guard let otpRelease else { return try await ask() }
        let key = "\(module.name)@\(otpRelease)"
        if let known = Self.md5s.withLockedValue({ $0[key] }) { return known }
        let answer = try await ask()
        if case .tuple(let parts) = answer, parts.count == 2, parts[0] == .atom(module) {
            Self.md5s.withLockedValue { $0[key] = answer }
        }
        return answer
    }

    /// The file name the node records for the loaded module (`code:which/1`).
    var fileName: String { "numbat/\(module.name).beam" }
}

/// How an injection went.
public enum InjectionResult: Sendable, Equatable {
    /// Loaded now.
    case loaded
    /// The same code was already loaded (re-injection after a reconnect).
    case alreadyLoaded
}

extension NodeManager {
    /// Loads `agent` into `node` with `code:load_binary/3`, unless the node already runs exactly
    /// this code. Throws `NumbatError` `agent_injection_failed` with the node's reason.
    public func inject(_ agent: Agent, into node: ManagedNode) async throws -> InjectionResult {
        let loaded = try await rpc(node, "code", "is_loaded", [.atom(agent.module)])
        if loaded != .atom(.false), let theirs = try await loadedMD5(of: agent, on: node) {
            // Same bytes -> same md5 of the module; ask the node, compare with ours.
            let ours = try await agent.md5(onRelease: node.otpRelease) {
                try await rpc(node, "beam_lib", "md5", [.binary(agent.beam)])
            }
            if case .tuple(let parts) = ours, parts.count == 2, parts[1] == theirs { return .alreadyLoaded }
        }
        try await purgeOldCode(of: agent, on: node)
        let result = try await rpc(node, "code", "load_binary", [.atom(agent.module), .string(agent.fileName), .binary(agent.beam)])
        guard case .tuple(let parts) = result, parts.first == .atom("module") else {
            throw NumbatError(.unavailable, "agent_injection_failed", "\(node.name) refused to load \(agent.module.name): \(result.erlangDescription)")
        }
        return .loaded
    }

    /// The md5 of the agent's code loaded on `node`; nil if the module went in the meantime (the
    /// agent of the node's previous manager deletes its code as it leaves, as happens when a
    /// node is handed over between servers: `undef` then means "load it").
    private func loadedMD5(of agent: Agent, on node: ManagedNode) async throws -> Term? {
        do {
            return try await rpc(node, agent.module, "module_info", [.atom("md5")])
        } catch let error as DistributionError where error.isUndefinedFunction {
            return nil
        }
    }

    /// Old code of the agent (an agent of a previous Numbat run still leaving) would make the
    /// node refuse to delete the new code later, so it goes first: softly while an old agent
    /// may still be exiting, and forcibly after 2 s (only Numbat's agents run this code).
    private func purgeOldCode(of agent: Agent, on node: ManagedNode) async throws {
        for _ in 0..<10 {
            guard try await rpc(node, "erlang", "check_old_code", [.atom(agent.module)]) == .atom(.true) else { return }
            if try await rpc(node, "code", "soft_purge", [.atom(agent.module)]) == .atom(.true) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        _ = try await rpc(node, "code", "purge", [.atom(agent.module)])
    }

    /// Removes `agent` from `node`: stops it (the module's `stop/0`), deletes and purges the code.
    public func purge(_ agent: Agent, from node: ManagedNode) async {
        _ = try? await rpc(node, agent.module, "stop", [], timeout: .seconds(5))
        _ = try? await rpc(node, "code", "delete", [.atom(agent.module)], timeout: .seconds(5))
        _ = try? await rpc(node, "code", "purge", [.atom(agent.module)], timeout: .seconds(5))
    }
}

extension DistributionError {
    /// An rpc that failed because the function's module is not loaded (`{'EXIT', {undef, _}}`):
    /// for an agent, its code went (deleted by a previous manager's agent as it left).
    var isUndefinedFunction: Bool {
        guard case .badRPC(.tuple(let exit)) = self, exit.count == 2, exit[0] == .atom("EXIT") else { return false }
        return exit[1][element: 0] == .atom("undef")
    }

    /// The node's connection went while talking to it: the node manager reports the node DOWN
    /// (and stops its workers), so an agent that failed this way is not unavailable.
    var isConnectionLoss: Bool {
        switch self {
        case .connectionClosed, .noConnection, .tickTimeout: return true
        default: return false
        }
    }
}
