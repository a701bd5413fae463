/// Where a built-in metric exists: metrics without one exist on every node.
public enum MetricRequirement: String, Codable, Sendable, CaseIterable {
    /// The node runs mnesia.
    case mnesia
    /// The node runs os_mon (disksup's disk figures).
    case osMon = "os_mon"
    /// The node runs on Linux: read from `/proc`, with or without os_mon.
    case linux
    /// Read from `/proc` on Linux; elsewhere only from os_mon, when the node runs it (os_mon's
    /// values win where both are there).
    case linuxOrOsMon = "linux_or_os_mon"

    /// How docs/metrics.md says it, after the description.
    public var phrase: String {
        switch self {
        case .mnesia: "when mnesia runs"
        case .osMon: "when os_mon runs"
        case .linux: "on Linux, from /proc"
        case .linuxOrOsMon: "on Linux from /proc, elsewhere when os_mon runs"
        }
    }

    /// Whether a node with these applications running, on Linux or not, has the metric.
    public func isMet(applications: Set<String>, linux: Bool) -> Bool {
        switch self {
        case .mnesia: applications.contains("mnesia")
        case .osMon: applications.contains("os_mon")
        case .linux: linux
        case .linuxOrOsMon: linux || applications.contains("os_mon")
        }
    }
}

/// One built-in metric: what the metrics agent reports under `name`.
public struct MetricDefinition: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A level: the value now.
        case gauge
        /// Only grows (until the node restarts): rates come from differences.
        case counter
    }

    public var name: String
    public var unit: String
    public var kind: Kind
    /// The part of the VM it describes: memory, processes, ...
    public var group: String
    public var description: String
    /// Present only where this holds, else (nil) on every node.
    public var requires: MetricRequirement?

    init(_ name: String, _ unit: String, _ kind: Kind, _ group: String, _ description: String, requires: MetricRequirement? = nil) {
        self.name = name
        self.unit = unit
        self.kind = kind
        self.group = group
        self.description = description
        self.requires = requires
    }
}

/// Every built-in metric in one place (docs/metrics.md is generated from the same list by
/// `numbat metrics catalog`). The agent `agents/numbat_metrics_agent.erl` reports them all in one
/// call per cycle.
public enum MetricCatalog {
    public static let builtIn: [MetricDefinition] = memory + allocators + processes + schedulers + counters + io + system + distribution + logging + mnesia + os + osProcess

    public static let byName: [String: MetricDefinition] = Dictionary(uniqueKeysWithValues: builtIn.map { ($0.name, $0) })

    static let memory: [MetricDefinition] = [
        .init("memory_total", "bytes", .gauge, "memory", "All memory the VM has allocated for Erlang (erlang:memory(total))"),
        .init("memory_processes", "bytes", .gauge, "memory", "Memory allocated for processes: heaps, stacks, mailboxes"),
        .init("memory_processes_used", "bytes", .gauge, "memory", "Process memory in use"),
        .init("memory_system", "bytes", .gauge, "memory", "Memory not tied to a process: atoms, binaries, code, ETS, VM internals"),
        .init("memory_atom", "bytes", .gauge, "memory", "Memory allocated for atoms"),
        .init("memory_atom_used", "bytes", .gauge, "memory", "Atom memory in use"),
        .init("memory_binary", "bytes", .gauge, "memory", "Memory for reference-counted (off-heap) binaries"),
        .init("memory_code", "bytes", .gauge, "memory", "Memory for loaded code"),
        .init("memory_ets", "bytes", .gauge, "memory", "Memory for ETS tables"),
        .init("memory_persistent_term", "bytes", .gauge, "memory", "Memory for persistent terms"),
        .init("persistent_terms", "terms", .gauge, "memory", "Number of persistent terms"),
    ]

    /// The alloc_util allocators' carriers (memory held from the OS) and the blocks in use in
    /// them, as recon_alloc reports them: where erlang:memory() and the OS's figure differ.
    static let allocators: [MetricDefinition] = [
        .init("allocator_carriers_bytes", "bytes", .gauge, "allocators", "Carriers of all alloc_util allocators: memory the VM's allocators hold from the OS"),
        .init("allocator_blocks_bytes", "bytes", .gauge, "allocators", "Blocks in use in those carriers"),
        .init("allocator_usage", "ratio", .gauge, "allocators", "Blocks in use per carrier byte (0 to 1; low means fragmented carriers)"),
        .init("allocator_mbcs_carriers_bytes", "bytes", .gauge, "allocators", "Multiblock carriers (the carrier pool included)"),
        .init("allocator_sbcs_carriers_bytes", "bytes", .gauge, "allocators", "Single-block carriers (large blocks)"),
    ] + [
        ("binary", "reference-counted binaries"), ("eheap", "process heaps"), ("ets", "ETS tables"), ("ll", "long-lived data (code, atoms)"),
        ("std", "general use"), ("sl", "short-lived data"), ("temp", "temporary data"), ("fix", "fixed-size internal structures"),
        ("driver", "drivers and ports"), ("literal", "literals of loaded code"),
    ].map { allocator, use in
        .init("allocator_\(allocator)_carriers_bytes", "bytes", .gauge, "allocators", "Carriers of \(allocator)_alloc (\(use))")
    }

    static let processes: [MetricDefinition] = [
        .init("process_count", "processes", .gauge, "processes", "Processes alive"),
        .init("process_limit", "processes", .gauge, "processes", "Most processes the node may have (+P)"),
        .init("port_count", "ports", .gauge, "ports", "Ports open (sockets, files, pipes, drivers)"),
        .init("port_limit", "ports", .gauge, "ports", "Most ports the node may have (+Q)"),
        .init("atom_count", "atoms", .gauge, "atoms", "Atoms in the atom table (never freed)"),
        .init("atom_limit", "atoms", .gauge, "atoms", "Size of the atom table (+t); the node dies when it is full"),
        .init("ets_count", "tables", .gauge, "ets", "ETS tables"),
        .init("ets_limit", "tables", .gauge, "ets", "ETS table limit (a soft limit since OTP 20)"),
        .init("ets_objects_total", "objects", .gauge, "ets", "Objects in all ETS tables"),
        .init("ets_largest_table_objects", "objects", .gauge, "ets", "Objects in the largest ETS table"),
        .init("ets_largest_table_words", "words", .gauge, "ets", "Memory of the largest ETS table"),
        .init("message_queue_max", "messages", .gauge, "processes", "Longest message queue of any process (the process is in the details)"),
        .init("message_queue_total", "messages", .gauge, "processes", "Messages waiting in all mailboxes"),
        .init("processes_with_messages", "processes", .gauge, "processes", "Processes with at least one message waiting"),
        .init("process_heap_max_words", "words", .gauge, "processes", "Largest process heap (total_heap_size)"),
        .init("ports_tcp", "ports", .gauge, "ports", "TCP sockets"),
        .init("ports_udp", "ports", .gauge, "ports", "UDP sockets"),
        .init("ports_sctp", "ports", .gauge, "ports", "SCTP sockets"),
        .init("ports_file", "ports", .gauge, "ports", "Open files (efile ports)"),
        .init("ports_pipe", "ports", .gauge, "ports", "Pipes to external programs (spawn ports)"),
        .init("ports_other", "ports", .gauge, "ports", "Other ports (drivers, fds)"),
    ]

    static let schedulers: [MetricDefinition] = [
        .init("run_queue", "processes", .gauge, "schedulers", "Processes and ports ready to run, all run queues"),
        .init("run_queue_cpu", "processes", .gauge, "schedulers", "Ready to run on the normal schedulers"),
        .init("run_queue_max", "processes", .gauge, "schedulers", "Longest run queue of one normal scheduler"),
        .init("run_queue_dirty_cpu", "processes", .gauge, "schedulers", "Ready to run on dirty CPU schedulers"),
        .init("run_queue_dirty_io", "processes", .gauge, "schedulers", "Ready to run on dirty IO schedulers"),
        .init("active_tasks", "tasks", .gauge, "schedulers", "Running or ready tasks on the normal schedulers"),
        .init("active_tasks_dirty_cpu", "tasks", .gauge, "schedulers", "Running or ready tasks on dirty CPU schedulers"),
        .init("active_tasks_dirty_io", "tasks", .gauge, "schedulers", "Running or ready tasks on dirty IO schedulers"),
        .init("scheduler_utilization", "ratio", .gauge, "schedulers", "Busy share of all schedulers since the last collection (0 to 1)"),
        .init("scheduler_utilization_cpu", "ratio", .gauge, "schedulers", "Busy share of the normal schedulers"),
        .init("scheduler_utilization_dirty_cpu", "ratio", .gauge, "schedulers", "Busy share of the dirty CPU schedulers"),
        .init("scheduler_utilization_dirty_io", "ratio", .gauge, "schedulers", "Busy share of the dirty IO schedulers"),
        .init("logical_processors", "cpus", .gauge, "system", "Logical processors of the machine"),
        .init("logical_processors_available", "cpus", .gauge, "system", "Logical processors the VM may use"),
        .init("logical_processors_online", "cpus", .gauge, "system", "Logical processors online"),
        .init("schedulers", "schedulers", .gauge, "schedulers", "Normal scheduler threads"),
        .init("schedulers_online", "schedulers", .gauge, "schedulers", "Normal schedulers online"),
        .init("dirty_cpu_schedulers", "schedulers", .gauge, "schedulers", "Dirty CPU scheduler threads"),
        .init("dirty_cpu_schedulers_online", "schedulers", .gauge, "schedulers", "Dirty CPU schedulers online"),
        .init("dirty_io_schedulers", "schedulers", .gauge, "schedulers", "Dirty IO scheduler threads"),
        .init("thread_pool_size", "threads", .gauge, "schedulers", "Async thread pool size (+A)"),
    ]

    static let counters: [MetricDefinition] = [
        .init("reductions", "reductions", .counter, "work", "Reductions (units of work) done by all processes"),
        .init("exact_reductions", "reductions", .counter, "work", "Exact reductions, including those of running processes"),
        .init("context_switches", "switches", .counter, "work", "Context switches"),
        .init("gc_count", "collections", .counter, "garbage_collection", "Garbage collections"),
        .init("gc_words_reclaimed", "words", .counter, "garbage_collection", "Words reclaimed by garbage collection"),
        .init("runtime_ms", "milliseconds", .counter, "work", "CPU time of all scheduler threads"),
        .init("wall_clock_ms", "milliseconds", .counter, "system", "Wall-clock time since the node started"),
        .init("uptime_seconds", "seconds", .gauge, "system", "Time since the node started"),
    ]

    static let io: [MetricDefinition] = [
        .init("io_input_bytes", "bytes", .counter, "io", "Bytes received through ports"),
        .init("io_output_bytes", "bytes", .counter, "io", "Bytes sent through ports"),
    ]

    static let system: [MetricDefinition] = [
        .init("loaded_modules", "modules", .gauge, "code", "Modules loaded"),
        .init("word_size", "bytes", .gauge, "system", "Size of a word (words to bytes for the *_words metrics)"),
        .init("otp_release", "release", .gauge, "system", "OTP release the node runs (its major version)"),
    ]

    static let distribution: [MetricDefinition] = [
        .init("dist_nodes", "nodes", .gauge, "distribution", "Visible nodes connected"),
        .init("dist_hidden_nodes", "nodes", .gauge, "distribution", "Hidden nodes connected (Numbat is one)"),
        .init("dist_queue_bytes_total", "bytes", .gauge, "distribution", "Bytes waiting in the distribution buffers of all peers (per peer in the details)"),
        .init("dist_queue_bytes_max", "bytes", .gauge, "distribution", "Bytes waiting in the fullest peer's distribution buffer"),
        .init("dist_buffer_busy_limit", "bytes", .gauge, "distribution", "Distribution buffer busy limit (+zdbbl)"),
        .init("dist_busy_peers", "nodes", .gauge, "distribution", "Peers whose distribution buffer is at or over the busy limit now: senders to them block"),
        .init("dist_sent_bytes", "bytes", .counter, "distribution", "Bytes sent over the open distribution connections (per peer in the details; drops when a connection closes)"),
        .init("dist_received_bytes", "bytes", .counter, "distribution", "Bytes received over the open distribution connections (per peer in the details; drops when a connection closes)"),
    ]

    static let logging: [MetricDefinition] = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"].map {
        .init("log_\($0)", "events", .counter, "logging", "Log events at level \($0) since the agent started (logger, so SASL, error_logger and Elixir Logger too)")
    }

    static let mnesia: [MetricDefinition] = [
        .init("mnesia_transaction_commits", "transactions", .counter, "mnesia", "Committed transactions", requires: .mnesia),
        .init("mnesia_transaction_failures", "transactions", .counter, "mnesia", "Failed (aborted) transactions", requires: .mnesia),
        .init("mnesia_transaction_restarts", "transactions", .counter, "mnesia", "Restarted transactions", requires: .mnesia),
        .init("mnesia_transaction_log_writes", "writes", .counter, "mnesia", "Writes to the transaction log", requires: .mnesia),
        .init("mnesia_held_locks", "locks", .gauge, "mnesia", "Locks held", requires: .mnesia),
        .init("mnesia_lock_queue", "requests", .gauge, "mnesia", "Lock requests waiting", requires: .mnesia),
    ]

    /// The machine. Without os_mon (most nodes), Linux's /proc gives them; where os_mon runs,
    /// its cpu_sup and memsup values are reported instead.
    static let os: [MetricDefinition] = [
        .init("os_cpu_utilization", "percent", .gauge, "os", "Machine CPU utilisation since the last collection (cpu_sup:util/0 with os_mon)", requires: .linuxOrOsMon),
        .init("os_cpu_iowait", "percent", .gauge, "os", "Share of machine CPU time waiting for IO since the last collection", requires: .linux),
        .init("os_cpu_steal", "percent", .gauge, "os", "Share of machine CPU time taken by the hypervisor since the last collection", requires: .linux),
        .init("os_load1", "load", .gauge, "os", "Load average over 1 minute", requires: .linuxOrOsMon),
        .init("os_load5", "load", .gauge, "os", "Load average over 5 minutes", requires: .linuxOrOsMon),
        .init("os_load15", "load", .gauge, "os", "Load average over 15 minutes", requires: .linuxOrOsMon),
        .init("os_memory_total", "bytes", .gauge, "os", "Machine memory", requires: .linuxOrOsMon),
        .init("os_memory_free", "bytes", .gauge, "os", "Free machine memory", requires: .linuxOrOsMon),
        .init("os_memory_available", "bytes", .gauge, "os", "Available machine memory", requires: .linuxOrOsMon),
        .init("os_memory_buffered", "bytes", .gauge, "os", "Buffer memory", requires: .linuxOrOsMon),
        .init("os_memory_cached", "bytes", .gauge, "os", "Page cache memory", requires: .linuxOrOsMon),
        .init("os_swap_total", "bytes", .gauge, "os", "Swap space", requires: .linux),
        .init("os_swap_free", "bytes", .gauge, "os", "Free swap space", requires: .linux),
        .init("os_context_switches", "switches", .counter, "os", "Context switches of the machine", requires: .linux),
        .init("os_processes_created", "processes", .counter, "os", "OS processes and threads created (forks) since boot", requires: .linux),
        .init("os_processes_running", "processes", .gauge, "os", "OS threads running or ready to run", requires: .linux),
        .init("os_processes_blocked", "processes", .gauge, "os", "OS threads blocked on IO", requires: .linux),
        .init("os_disk_max_used_percent", "percent", .gauge, "os", "Fullest disk's used capacity (disksup)", requires: .osMon),
    ]

    /// The VM's own OS process, as the OS sees it (erlang:memory/0 counts only what the VM's
    /// allocators hand out).
    static let osProcess: [MetricDefinition] = [
        .init("os_process_resident_memory", "bytes", .gauge, "os", "Resident memory of the VM's OS process (VmRSS)", requires: .linux),
        .init("os_process_resident_memory_peak", "bytes", .gauge, "os", "Highest resident memory of the VM's OS process (VmHWM)", requires: .linux),
        .init("os_process_virtual_memory", "bytes", .gauge, "os", "Virtual memory of the VM's OS process (VmSize)", requires: .linux),
        .init("os_process_threads", "threads", .gauge, "os", "Threads of the VM's OS process (schedulers, async and dirty threads...)", requires: .linux),
    ]
}
