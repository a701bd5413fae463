import ErlangTerm
import Foundation
import NumbatCore

/// The metrics Numbat can read with plain rpc of BIFs when the agent cannot be loaded: the core
/// memory, count, limit and counter metrics (a dozen calls instead of one; no scheduler
/// utilisation, no per-process scan, no log counts).
enum AgentlessCollection {
    static func collect(from node: ManagedNode, nodes: NodeManager, timeout: Duration) async throws -> MetricSnapshot {
        func call(_ module: Atom, _ function: Atom, _ arguments: [Term] = []) async throws -> Term {
            try await nodes.rpc(node, module, function, arguments, timeout: timeout)
        }
        func info(_ key: String) async throws -> Double? { try await call("erlang", "system_info", [.atom(Atom(key))]).doubleValue }
        func statistic(_ key: String) async throws -> Term { try await call("erlang", "statistics", [.atom(Atom(key))]) }

        var values: [String: Double?] = [:]
        for pair in (try await call("erlang", "memory")).listElements ?? [] {
            guard case .tuple(let entry) = pair, entry.count == 2, let name = entry[0].atomValue?.name, let number = entry[1].doubleValue else { continue }
            values["memory_\(name)"] = .some(number)
        }
        for key in ["process_count", "process_limit", "port_count", "port_limit", "atom_count", "atom_limit", "ets_count", "ets_limit",
                    "schedulers", "schedulers_online", "dirty_cpu_schedulers", "dirty_io_schedulers", "thread_pool_size"]
        {
            values[key] = try await info(key)
        }
        values["run_queue"] = try await statistic("total_run_queue_lengths_all").doubleValue
        values["reductions"] = try await statistic("reductions")[element: 0]?.doubleValue
        values["context_switches"] = try await statistic("context_switches")[element: 0]?.doubleValue
        let io = try await statistic("io")
        values["io_input_bytes"] = io[element: 0]?[element: 1]?.doubleValue
        values["io_output_bytes"] = io[element: 1]?[element: 1]?.doubleValue
        let gc = try await statistic("garbage_collection")
        values["gc_count"] = gc[element: 0]?.doubleValue
        values["gc_words_reclaimed"] = gc[element: 1]?.doubleValue
        values["runtime_ms"] = try await statistic("runtime")[element: 0]?.doubleValue
        let wall = try await statistic("wall_clock")[element: 0]?.doubleValue
        values["wall_clock_ms"] = wall
        values["uptime_seconds"] = wall.map { ($0 / 1000).rounded(.down) }
        values["dist_nodes"] = Double(try await call("erlang", "nodes").listElements?.count ?? 0)
        values["dist_hidden_nodes"] = Double(try await call("erlang", "nodes", [.atom("hidden")]).listElements?.count ?? 0)
        values["loaded_modules"] = Double(try await call("code", "all_loaded").listElements?.count ?? 0)
        return MetricSnapshot(time: Date(), source: .agentless, values: MetricValues(values.compactMapValues { $0 }))
    }
}
