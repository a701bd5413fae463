import Foundation
import NumbatTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `numbat-bench --only scale`: one `numbat serve` on SQLite and on PostgreSQL managing 1,000,
/// 5,000 and 10,000 simulated nodes (`numbat-sim`, validated by `--only simulator`) at 60 s
/// metric cycles: CPU, RSS, KB per node, and time from server start to every node UP with its
/// agents; then two servers on PostgreSQL sharing the nodes, one killed with SIGKILL, and the
/// time until the survivor runs every node again. Timing comes from the simulator's census
/// (what the nodes see), so polling the API does not load the server being measured.
struct ScaleBench {
    var sizes: [Int]
    var stores: [String]
    var windowSeconds: Double
    var failoverNodes: Int
    var logsPerMinute: Double
    var alarmsPerHour: Double

    struct Row {
        var store: String
        var nodes: Int
        var addSeconds: Double
        var startToUpSeconds: Double
        var cpuPercent: Double
        var baseRSS: Double
        var rss: Double
        var simulatorCPUPercent: Double
        /// The server's heap (`GET /metrics`, glibc's malloc_info) before any node, with every
        /// node UP after the restart, and at the end of the window: where the memory per node is.
        var heapBase: Heap
        var heapUp: Heap
        var heapEnd: Heap
    }

    /// `numbat_heap_*`: allocated (SQLite's share apart) and free inside malloc's arenas.
    struct Heap {
        var allocated: Double
        var sqlite: Double
        var free: Double
        var rss: Double

        init(_ figures: [String: Double]) {
            allocated = figures["numbat_heap_allocated_bytes"] ?? 0
            sqlite = figures["numbat_heap_sqlite_bytes"] ?? 0
            free = figures["numbat_heap_free_bytes"] ?? 0
            rss = figures["process_resident_memory_bytes"] ?? 0
        }

        /// Per node, in KB, above `base`: the server's own allocations, SQLite's, malloc's
        /// free bytes, and the rest of RSS (thread stacks, mapped code, allocator overhead).
        func perNode(above base: Heap, nodes: Int) -> (own: Double, sqlite: Double, free: Double, other: Double) {
            let n = Double(max(nodes, 1)) * 1024
            let own = (allocated - sqlite) - (base.allocated - base.sqlite)
            let sqliteGrowth = sqlite - base.sqlite
            let freeGrowth = free - base.free
            let other = (rss - base.rss) - (allocated - base.allocated) - freeGrowth
            return (own / n, sqliteGrowth / n, freeGrowth / n, other / n)
        }
    }

    struct Failover {
        var nodes: Int
        var split: [Int]
        /// Until the simulator saw every node connected again (the survivor's handshake done).
        var secondsToAllConnected: Double
        /// Until every node also ran its agents again (as many metrics agents as before the kill).
        var secondsToAllAgents: Double
        var survivorUp: Int
    }

    func run() async throws -> (rows: [Row], failover: Failover?) {
        let cookie = "numbat-scale-\(UInt32.random(in: 0...UInt32.max))"
        let total = max(sizes.max() ?? 0, failoverNodes)
        progress("scale: starting \(total) simulated nodes")
        let fleet = try await SimulatorFleet.start(total: total, cookie: cookie, logsPerMinute: logsPerMinute, alarmsPerHour: alarmsPerHour)
        defer { fleet.stop() }
        var postgres: PostgresServer?
        do {
            let result = try await measureAll(fleet: fleet, postgres: &postgres)
            // Stopped here, awaited: a Task started in a defer may not run before the process exits.
            await postgres?.stop()
            return result
        } catch {
            await postgres?.stop()
            throw error
        }
    }

    private func measureAll(fleet: SimulatorFleet, postgres: inout PostgresServer?) async throws -> (rows: [Row], failover: Failover?) {
        var rows: [Row] = []
        for store in stores {
            if store == "postgres", postgres == nil { postgres = try await PostgresServer.start() }
            for size in sizes.sorted() where size > 0 {
                progress("scale: \(store), \(size) nodes")
                var argument: [String] = []
                if let postgres, store == "postgres" {
                    let database = "scale\(size)"
                    try await postgres.createDatabase(database)
                    argument = ["--store", postgres.url(database: database)]
                }
                let row = try await measure(store: store, size: size, storeArguments: argument, fleet: fleet)
                // Printed at once too: a later phase that fails does not take these figures with it.
                progress(String(format: "scale: %@ %d nodes: CPU %.1f %%, RSS %.0f MB (%.0f KB/node), start -> all UP %.1f s, adding %.0f s",
                                store, size, row.cpuPercent, row.rss / 1_048_576, (row.rss - row.baseRSS) / Double(size) / 1024,
                                row.startToUpSeconds, row.addSeconds))
                for (label, heap) in [("all UP", row.heapUp), ("end", row.heapEnd)] {
                    let split = heap.perNode(above: row.heapBase, nodes: size)
                    progress(String(format: "scale: %@ %d nodes, heap at %@, KB/node: own allocations %.1f, SQLite %.1f, malloc free %.1f, rest of RSS %.1f",
                                    store, size, label, split.own, split.sqlite, split.free, split.other))
                }
                rows.append(row)
            }
        }
        var failover: Failover?
        if failoverNodes > 0 {
            if postgres == nil { postgres = try await PostgresServer.start() }
            try await postgres!.createDatabase("failover")
            failover = try await measureFailover(store: postgres!.url(database: "failover"), fleet: fleet)
        }
        return (rows, failover)
    }

    private func start(_ directory: URL, _ name: String, _ storeArguments: [String], fleet: SimulatorFleet) async throws -> ServeProcess {
        try await ServeProcess.start(directory: directory, nodeName: name, extraArguments: storeArguments,
                                     environment: ["ERL_EPMD_PORT": "\(fleet.epmdPort)"])
    }

    /// Adds the first `count` simulated nodes through `server`: one seed per cluster of 100,
    /// discovery adding the rest; eight seeds at a time.
    private func add(_ count: Int, through server: ServeProcess, fleet: SimulatorFleet) async throws {
        let seeds = fleet.seeds(count)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, seed) in seeds.enumerated() {
                if index >= 8 { try await group.next() }
                group.addTask {
                    try await server.addNode(seed, cookie: fleet.cookie, discover: true, timeout: 3600)
                }
            }
            try await group.waitForAll()
        }
    }

    private func measure(store: String, size: Int, storeArguments: [String], fleet: SimulatorFleet) async throws -> Row {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-scale-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let name = "numbatscale\(getpid())"
        let clock = ContinuousClock()
        var first = try await start(directory, name, storeArguments, fleet: fleet)
        try await Task.sleep(for: .seconds(2))
        let base = ProcessSample.rss(first.pid)
        let heapBase = Heap(try await first.ownMetrics())
        let addStart = clock.now
        do {
            try await add(size, through: first, fleet: fleet)
            _ = try await fleet.wait(upTo: 3600, "\(size) nodes with agents") { $0.connected >= size && $0.metricsAgents >= size }
        } catch {
            first.terminate()
            throw error
        }
        let addSeconds = seconds(clock.now - addStart)
        first.terminate()
        _ = try await fleet.wait(upTo: 120, "every agent gone after the server stopped") { $0.connected == 0 && $0.metricsAgents == 0 }

        // From a server start on the stored nodes to every node UP with its agents.
        let restart = clock.now
        first = try await start(directory, name, storeArguments, fleet: fleet)
        defer { first.terminate() }
        _ = try await fleet.wait(upTo: 3600, "\(size) nodes back") { $0.connected >= size && $0.metricsAgents >= size }
        let startToUp = seconds(clock.now - restart)
        let up = try await first.upCount(timeout: 600)
        guard up == size else { throw BenchFailure(description: "the API lists \(up) nodes UP, the simulator \(size) connected") }
        let heapUp = Heap(try await first.ownMetrics())

        // One whole cycle of warm-up, then the window (whole 60 s cycles).
        try await Task.sleep(for: .seconds(60))
        let cpuBefore = ProcessSample.cpuSeconds(first.pid)
        let simulatorBefore = fleet.cpuSeconds
        let windowStart = clock.now
        try await Task.sleep(for: .seconds(windowSeconds))
        let elapsed = seconds(clock.now - windowStart)
        let cpu = (ProcessSample.cpuSeconds(first.pid) - cpuBefore) / elapsed * 100
        let simulatorCPU = (fleet.cpuSeconds - simulatorBefore) / elapsed * 100
        let row = Row(store: store, nodes: size, addSeconds: addSeconds, startToUpSeconds: startToUp, cpuPercent: cpu,
                      baseRSS: base, rss: ProcessSample.rss(first.pid), simulatorCPUPercent: simulatorCPU,
                      heapBase: heapBase, heapUp: heapUp, heapEnd: Heap(try await first.ownMetrics()))
        first.terminate()
        _ = try await fleet.wait(upTo: 120, "every agent gone after the server stopped") { $0.connected == 0 && $0.metricsAgents == 0 }
        return row
    }

    /// Two servers on one database share `failoverNodes`; SIGKILL one; seconds until the
    /// simulator sees every node connected and running its agents again.
    private func measureFailover(store: String, fleet: SimulatorFleet) async throws -> Failover {
        let size = failoverNodes
        progress("scale: two servers on PostgreSQL, \(size) nodes, one killed")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-failover-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(base)
        defer { try? FileManager.default.removeItem(at: base) }
        // Servers sharing a database share the key their secrets (the node cookies) are sealed with.
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        for server in ["a", "b"] {
            let directory = base.appendingPathComponent(server)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: directory.appendingPathComponent("secret.key").path, contents: key,
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw BenchFailure(description: "cannot write \(directory.path)/secret.key")
            }
        }
        let a = try await start(base.appendingPathComponent("a"), "numbatfa\(getpid())", ["--store", store], fleet: fleet)
        defer { a.terminate() }
        let b = try await start(base.appendingPathComponent("b"), "numbatfb\(getpid())", ["--store", store], fleet: fleet)
        defer { b.terminate() }
        try await add(size, through: a, fleet: fleet)
        // Settled: every node connected with agents, and both servers holding a share.
        var split: [Int] = []
        let clock = ContinuousClock()
        let settleStart = clock.now
        var reported = settleStart
        // Settled: every node connected, and the metrics agents all running or, short of that,
        // their count unchanged for 60 s (the shortfall is reported; the recovery is measured
        // against the count before the kill).
        var agents = (count: -1, since: clock.now)
        var census = fleet.census
        while true {
            split = try await a.clusterShares()
            census = fleet.census
            if census.metricsAgents != agents.count { agents = (census.metricsAgents, clock.now) }
            let agentsSettled = census.metricsAgents == size || clock.now - agents.since > .seconds(60)
            if split.count == 2, split.allSatisfy({ $0 > 0 }), split.reduce(0, +) == size, census.connected == size, agentsSettled { break }
            guard clock.now - settleStart < .seconds(1800) else { throw BenchFailure(description: "the cluster did not settle: \(split) \(census)") }
            if clock.now - reported > .seconds(30) {
                reported = clock.now
                progress("scale: settling: shares \(split), \(census.connected) nodes connected, \(census.metricsAgents) with the metrics agent")
            }
            try await Task.sleep(for: .seconds(1))
        }
        if census.metricsAgents < size {
            progress("scale: settled with \(size - census.metricsAgents) of \(size) nodes without the metrics agent (simulator's census)")
        }
        let agentsBefore = census.metricsAgents
        try await Task.sleep(for: .seconds(10))
        let killed = clock.now
        kill(b.pid, SIGKILL)
        _ = waitForExit(b.process)
        // The census first shows the loss (the dead server's connections close at once)...
        _ = try await fleet.wait(upTo: 30, "the killed server's nodes disconnected") { $0.connected < size }
        // ...then the survivor's takeover: connections first, then the agents.
        _ = try await fleet.wait(upTo: 600, "every node connected to the survivor", reportEvery: .seconds(5)) { $0.connected == size }
        let connected = seconds(clock.now - killed)
        _ = try await fleet.wait(upTo: 600, "every node running its agents under the survivor", reportEvery: .seconds(5)) { $0.metricsAgents >= agentsBefore }
        let withAgents = seconds(clock.now - killed)
        let survivorUp = try await a.upCount(timeout: 600)
        return Failover(nodes: size, split: split, secondsToAllConnected: connected, secondsToAllAgents: withAgents, survivorUp: survivorUp)
    }
}

extension ServeProcess {
    /// How many nodes each live server of the cluster holds (`GET /api/cluster`).
    func clusterShares() async throws -> [Int] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url + "/api/cluster")!)
        struct Cluster: Decodable {
            struct Entry: Decodable {
                var alive: Bool
                var nodes: [UUID]
            }
            var servers: [Entry]
        }
        return try JSONDecoder().decode(Cluster.self, from: data).servers.filter(\.alive).map(\.nodes.count)
    }
}
