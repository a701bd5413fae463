import ErlangDist
import ErlangTerm
import NumbatTestSupport

/// How long a measurement runs: until a deadline, or a fixed number of calls.
enum Limit: Sendable {
    case seconds(Double)
    case calls(Int)

    var term: Term {
        switch self {
        case .seconds(let seconds): return .tuple([.atom("millis"), .integer(Int(seconds * 1000))])
        case .calls(let calls): return .tuple([.atom("calls"), .integer(calls)])
        }
    }

    /// Generous time for the driver node to finish a run of this limit.
    var timeout: Duration {
        switch self {
        case .seconds(let seconds): return .seconds(Int(seconds * 3) + 60)
        case .calls(let calls): return .seconds(max(120, calls / 1000))
        }
    }
}

/// The function every rpc benchmark calls on the target.
enum CallKind: String, CaseIterable, Sendable {
    /// `erlang:node()`: the cheapest call, so the figure is the rpc machinery itself.
    case node
    /// `lists:reverse([1,2,3])`: a call with arguments and a list result.
    case reverse

    var module: Atom { self == .node ? "erlang" : "lists" }
    var function: Atom { self == .node ? "node" : "reverse" }
    var arguments: [Term] { self == .node ? [] : [.list([.integer(1), .integer(2), .integer(3)])] }
    var mfa: Term { .tuple([.atom(module), .atom(function), .list(arguments)]) }
    var display: String { self == .node ? "erlang:node()" : "lists:reverse([1,2,3])" }
}

/// The Erlang ways of making the same call, run on the hidden driver node (numbat_bench:rpc_run/5).
enum ErlangRPCVariant: String, CaseIterable, Sendable {
    case rexCall = "rex_call"
    case rexRaw = "rex_raw"
    case rpcCall = "rpc_call"

    var display: String {
        switch self {
        case .rexCall: return "gen_server:call({rex,N},{call,M,F,A,user},infinity)"
        case .rexRaw: return "{rex,N} ! {self(),{call,M,F,A,user}}, receive {rex,R}"
        case .rpcCall: return "rpc:call/4 (erpc: spawn_request)"
        }
    }

    var short: String {
        switch self {
        case .rexCall: return "Erlang rex gen_server:call"
        case .rexRaw: return "Erlang rex raw send/receive"
        case .rpcCall: return "Erlang rpc:call (erpc)"
        }
    }
}

struct Throughput: Sendable {
    var count: Int
    var seconds: Double
    var rate: Double { seconds > 0 ? Double(count) / seconds : 0 }
}

enum RPCBench {
    /// `LocalNode.rpc` from Swift: `concurrency` tasks, each with one call in flight, run as the
    /// server runs its per-node work: preferring the event loop of the target's connection
    /// (`AgentOwner.run`, `EventLoopTaskExecutor`).
    static func swift(_ local: LocalNode, target: NodeName, call: CallKind, concurrency: Int, limit: Limit) async throws -> Throughput {
        let module = call.module, function = call.function, arguments = call.arguments
        let executor = local.taskExecutor(for: target)
        let start = monotonicNanos()
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<concurrency {
                group.addTask(executorPreference: executor) {
                    var done = 0
                    switch limit {
                    case .seconds(let seconds):
                        let deadline = start + UInt64(seconds * 1e9)
                        while monotonicNanos() < deadline {
                            blackHole(try await local.rpc(target, module, function, arguments))
                            done += 1
                        }
                    case .calls(let calls):
                        let share = calls / concurrency + (index < calls % concurrency ? 1 : 0)
                        for _ in 0..<share {
                            blackHole(try await local.rpc(target, module, function, arguments))
                            done += 1
                        }
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        return Throughput(count: total, seconds: Double(monotonicNanos() - start) / 1e9)
    }

    /// The same loop run by the Erlang hidden node `driver` against `target`.
    static func erlang(_ local: LocalNode, driver: NodeName, target: NodeName, variant: ErlangRPCVariant,
                       call: CallKind, concurrency: Int, limit: Limit) async throws -> Throughput
    {
        let reply = try await local.rpc(
            driver, "numbat_bench", "rpc_run",
            [.atom(target.atom), .atom(Atom(variant.rawValue)), .integer(concurrency), limit.term, call.mfa],
            timeout: limit.timeout)
        guard case .tuple(let parts) = reply, parts.count == 2, let calls = parts[0].intValue, let micros = parts[1].intValue else {
            throw BenchError.unexpected("numbat_bench:rpc_run returned \(reply)")
        }
        return Throughput(count: calls, seconds: Double(micros) / 1e6)
    }
}

enum BenchError: Error, CustomStringConvertible {
    case unexpected(String)
    case usage(String)

    var description: String {
        switch self {
        case .unexpected(let text): return text
        case .usage(let text): return text
        }
    }
}
