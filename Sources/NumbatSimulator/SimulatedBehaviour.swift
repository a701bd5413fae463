import Crypto
import Foundation
import ErlangTerm

/// What one simulated node answers, as a pure value: the calls Numbat makes through `rex` go in,
/// the reply and the effects on the node's I/O shell (`SimulatedNode`) come out. It keeps what a
/// real node would remember between calls: the modules loaded with `code:load_binary/3`, the
/// agents running and their owners, the log agent's level.
///
/// Answers follow the real node's shapes: the probe's and the agents' replies come from a
/// `SimulatorProfile` recorded on a real OTP node, the metrics changed over time by
/// `MetricDrift`; a function the simulator does not know gets the `undef` a node without the
/// module gives.
public struct SimulatedBehaviour: Sendable {
    /// One `rpc:call` as it arrives at `rex`.
    public struct Call: Sendable, Equatable {
        public var module: Atom
        public var function: Atom
        public var arguments: [Term]

        public init(_ module: Atom, _ function: Atom, _ arguments: [Term] = []) {
            self.module = module
            self.function = function
            self.arguments = arguments
        }

        /// Reads `{call, M, F, A, GroupLeader}`.
        public init?(request: Term) {
            guard let parts = request.tupleElements, parts.count == 5, parts[0] == .atom("call"),
                  let module = parts[1].atomValue, let function = parts[2].atomValue, let arguments = parts[3].listElements
            else { return nil }
            self.init(module, function, arguments)
        }
    }

    /// What the shell does beside replying.
    public enum Effect: Sendable, Equatable {
        /// Start the agent `module` for `owner`: make its process (monitoring the owner) and,
        /// for the log and alarm agents, start sending to the owner.
        case startAgent(module: Atom, owner: Pid)
        /// Stop the agent `module`'s process.
        case stopAgent(module: Atom)
    }

    /// The agents whose calls the simulator answers.
    public enum AgentKind: String, Sendable, CaseIterable {
        case metrics = "numbat_metrics_agent"
        case logs = "numbat_log_agent"
        case alarms = "numbat_alarm_agent"
        case commands = "numbat_command_agent"
        case lagerBackend = "numbat_lager_backend"
    }

    public let profile: SimulatorProfile
    public var drift: MetricDrift
    /// Loaded modules and the MD5 of the bytes they were loaded from.
    public private(set) var loaded: [Atom: [UInt8]] = [:]
    /// Agents running, with the pid they answered `start/2` with.
    public private(set) var running: [Atom: Pid] = [:]
    /// The log agent's level: events below it are not sent.
    public private(set) var logLevel: Atom = "notice"

    public init(profile: SimulatorProfile, drift: MetricDrift) {
        self.profile = profile
        self.drift = drift
    }

    /// The reply to `call` at `now` (seconds since the simulation started), and what the shell
    /// must do. `agentPid` is the pid a starting agent gets; `peers` are the node's cluster
    /// neighbours (visible: `erlang:nodes/0`), `hidden` the hidden nodes connected to it (Numbat;
    /// listed by `erlang:nodes([visible, hidden])` only, as on a real node).
    public mutating func handle(_ call: Call, now: Double, agentPid: (Atom) -> Pid, peers: [Atom], hidden: [Atom] = []) -> (reply: Term, effects: [Effect]) {
        let arguments = call.arguments
        switch (call.module.name, call.function.name, arguments.count) {
        case ("erlang", "system_info", 1) where arguments[0] == .atom("otp_release"):
            return (profile.otpRelease, [])
        case ("init", "script_id", 0):
            return (profile.scriptID, [])
        case ("erlang", "nodes", 0):
            return (.list(peers.map(Term.atom)), [])
        case ("erlang", "nodes", 1):
            let kinds = arguments[0].listElements ?? [arguments[0]]
            let listed = (kinds.contains(.atom("visible")) || kinds.contains(.atom("connected")) ? peers : [])
                + (kinds.contains(.atom("hidden")) || kinds.contains(.atom("connected")) ? hidden : [])
            return (.list(listed.map(Term.atom)), [])
        case ("erlang", "whereis", 1):
            guard let name = arguments[0].atomValue, let pid = running[name] else { return (.atom(.undefined), []) }
            return (.pid(pid), [])
        case ("net_kernel", "connect_node", 1):
            return (.atom(.true), [])
        case ("code", "is_loaded", 1):
            guard let module = arguments[0].atomValue, loaded[module] != nil else { return (.atom(.false), []) }
            return (.tuple([.atom("file"), .string("numbat/\(module.name).beam")]), [])
        case ("beam_lib", "md5", 1):
            guard case .binary(let bytes) = arguments[0] else { return (.tuple([.atom("error"), .atom("beam_lib"), .atom("not_a_beam_file")]), []) }
            return (.tuple([.atom("ok"), .tuple([.atom("module"), .binary(Self.md5(bytes))])]), [])
        case ("code", "load_binary", 3):
            guard let module = arguments[0].atomValue, case .binary(let bytes) = arguments[2] else {
                return (.tuple([.atom("error"), .atom("badarg")]), [])
            }
            loaded[module] = Self.md5(bytes)
            return (.tuple([.atom("module"), .atom(module)]), [])
        case ("erlang", "check_old_code", 1):
            return (.atom(.false), [])
        case ("code", "soft_purge", 1):
            return (.atom(.true), [])
        case ("code", "purge", 1):
            return (.atom(.false), [])
        case ("code", "delete", 1):
            guard let module = arguments[0].atomValue, loaded.removeValue(forKey: module) != nil else { return (.atom(.false), []) }
            return (.atom(.true), running[module] == nil ? [] : [.stopAgent(module: module)])
        case (_, "module_info", 1) where loaded[call.module] != nil && arguments[0] == .atom("md5"):
            return (.binary(loaded[call.module]!), [])
        case (_, "start", 2) where loaded[call.module] != nil:
            guard case .pid(let owner) = arguments[0], case .map = arguments[1] else { return (Self.functionClause(call), []) }
            if call.module == Atom(AgentKind.logs.rawValue), let level = arguments[1][.atom("level")]?.atomValue { logLevel = level }
            let pid = agentPid(call.module)
            let stopping: [Effect] = running[call.module] == nil ? [] : [.stopAgent(module: call.module)]
            running[call.module] = pid
            return (.tuple([.atom("ok"), .pid(pid)]), stopping + [.startAgent(module: call.module, owner: owner)])
        case (_, "stop", 0) where loaded[call.module] != nil:
            guard running.removeValue(forKey: call.module) != nil else { return (.atom("ok"), []) }
            return (.atom("ok"), [.stopAgent(module: call.module)])
        case (AgentKind.metrics.rawValue, "collect", 1) where loaded[call.module] != nil:
            guard running[call.module] != nil else { return (.tuple([.atom("error"), .atom("not_running")]), []) }
            return (drift.collected(profile.collect, at: now), [])
        case (AgentKind.alarms.rawValue, "check", 2) where loaded[call.module] != nil:
            guard running[call.module] != nil else { return (.tuple([.atom("error"), .atom("not_running")]), []) }
            return (Self.checked(profile.check), [])
        case (AgentKind.logs.rawValue, "set_level", 1) where loaded[call.module] != nil:
            guard let level = arguments[0].atomValue else { return (Self.functionClause(call), []) }
            logLevel = level
            return (.atom("ok"), [])
        default:
            return (Self.undef(call), [])
        }
    }

    /// The recorded check with the node's clock read now, as a live node's is: a clock frozen
    /// at the recording would be a growing skew (the `clock_skew` check).
    static func checked(_ recorded: Term) -> Term {
        guard case .tuple(let parts) = recorded, parts.count == 2, case .map(var facts) = parts[1],
              facts[.atom("system_time_ms")] != nil else { return recorded }
        facts[.atom("system_time_ms")] = .integer(Int(Date().timeIntervalSince1970 * 1000))
        return .tuple([parts[0], .map(facts)])
    }

    /// The agent `module`'s owner went (or the connection did): the agent stops and, as the
    /// real skeleton does 2 s later, its module is deleted unless a new agent started.
    public mutating func ownerLost(_ module: Atom, agent: Pid) {
        guard running[module] == agent else { return }
        running[module] = nil
        loaded[module] = nil
    }

    /// `{badrpc, {'EXIT', {undef, [{M, F, A, []}]}}}`, what `rex` answers for a missing function.
    static func undef(_ call: Call) -> Term {
        .tuple([.atom("badrpc"), .tuple([.atom("EXIT"), .tuple([.atom("undef"), .list([
            .tuple([.atom(call.module), .atom(call.function), .list(call.arguments), .list([])]),
        ])])])])
    }

    static func functionClause(_ call: Call) -> Term {
        .tuple([.atom("badrpc"), .tuple([.atom("EXIT"), .tuple([.atom("function_clause"), .list([
            .tuple([.atom(call.module), .atom(call.function), .list(call.arguments), .list([])]),
        ])])])])
    }

    static func md5(_ bytes: [UInt8]) -> [UInt8] { Array(Insecure.MD5.hash(data: bytes)) }
}
