import ArgumentParser
import Foundation
import NumbatCore
import NumbatServer

/// `numbat serve`: the Numbat server, on its embedded SQLite store or on PostgreSQL (`--store`).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Numbat server (REST API, WebSocket events, node manager).",
        discussion: """
            Settings come from a JSON file (--config or $NUMBAT_CONFIG, keys as below in snake_case: \
            host, port, data_dir, node_name, log_level, reconnect_initial_seconds, reconnect_max_seconds, \
            net_ticktime_seconds, busy_wait_microseconds, \
            metrics_interval_seconds, metrics_retention, graphite_host, graphite_port, graphite_prefix, \
            graphite_interval_seconds, store, ssh_config, ssh_auth_sock, ssh_host_keys, remote_write, \
            alert_retry_initial_seconds, alert_retry_max_seconds, alert_retry_max_attempts, alert_lease_seconds, \
            alert_poll_seconds, alert_send_timeout_seconds), \
            then environment variables (NUMBAT_HOST, NUMBAT_PORT, NUMBAT_DATA_DIR, NUMBAT_NODE_NAME, \
            NUMBAT_LOG_LEVEL, NUMBAT_RECONNECT_INITIAL_SECONDS, NUMBAT_RECONNECT_MAX_SECONDS, \
            NUMBAT_NET_TICKTIME_SECONDS, NUMBAT_BUSY_WAIT_MICROSECONDS, \
            NUMBAT_METRICS_INTERVAL_SECONDS, NUMBAT_METRICS_RETENTION, NUMBAT_GRAPHITE_HOST, NUMBAT_GRAPHITE_PORT, \
            NUMBAT_GRAPHITE_PREFIX, NUMBAT_GRAPHITE_INTERVAL_SECONDS, NUMBAT_STORE, NUMBAT_SSH_CONFIG, \
            NUMBAT_SSH_AUTH_SOCK, NUMBAT_SSH_HOST_KEYS, NUMBAT_REMOTE_WRITE, NUMBAT_ALERT_RETRY_INITIAL_SECONDS, \
            NUMBAT_ALERT_RETRY_MAX_SECONDS, NUMBAT_ALERT_RETRY_MAX_ATTEMPTS, NUMBAT_ALERT_LEASE_SECONDS, \
            NUMBAT_ALERT_POLL_SECONDS, NUMBAT_ALERT_SEND_TIMEOUT_SECONDS), then these \
            flags; later ones win.

            On loopback (the default) local callers need no token. On any other address every request \
            needs an API token. On first start an admin token is written to DATA_DIR/admin-token (mode 0600).
            SIGTERM or SIGINT shuts the server down gracefully: connections to managed nodes are closed \
            and the store is flushed.

            The store is the embedded SQLite file in the data directory unless --store names a PostgreSQL \
            database (postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=disable|prefer|require]); the \
            secret key stays in the data directory either way. A database that cannot be reached at start \
            stops the server with the reason.

            --remote-write URL (repeatable) also sends every collected sample to a Prometheus remote-write \
            receiver (Prometheus, VictoriaMetrics, Mimir, Thanos), batched and retried from a bounded queue; \
            the --remote-write-* credential and queue options apply to each URL given by flag. The file's \
            remote_write list may give each receiver its own (see docs/metrics.md).

            Alert deliveries that fail are retried after --alert-retry-initial seconds, doubling up to \
            --alert-retry-max, for --alert-retry-attempts attempts; a server claims due deliveries for \
            --alert-lease seconds (longer than --alert-send-timeout) and looks at the queue when a \
            delivery is queued or due, and at least every --alert-poll seconds (see docs/alerts.md).
            """)

    @Option(help: "JSON configuration file.")
    var config: String?

    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default 8080; 0 picks a free one).")
    var port: Int?

    @Option(help: "Directory for the database and the secret key (default ./numbat-data).")
    var dataDir: String?

    @Option(help: "Name of Numbat's hidden Erlang node (default numbat).")
    var nodeName: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    @Option(help: "Seconds before the first reconnection attempt to a lost node (default 2).")
    var reconnectInitial: Double?

    @Option(help: "Longest wait between reconnection attempts, in seconds (default 30).")
    var reconnectMax: Double?

    @Option(help: "Seconds of silence after which a managed node is DOWN, like -kernel net_ticktime (default 60).")
    var netTicktime: Int?

    @Option(help: "Microseconds an rpc's caller keeps a CPU awake for a quick reply, as the BEAM's schedulers spin before they sleep; 0: never (default 200).")
    var busyWait: Int?

    @Option(help: "Seconds between metrics collections on each node (default 60).")
    var metricsInterval: Double?

    @Option(help: "Metric history kept: raw:RETENTION, then RESOLUTION:RETENTION per roll-up (default raw:1h,5m:1d,15m:1w).")
    var metricsRetention: String?

    @Option(help: "Push metrics to this Graphite (carbon plaintext) host (default: no push).")
    var graphiteHost: String?

    @Option(help: "Graphite plaintext port (default 2003).")
    var graphitePort: Int?

    @Option(help: "Prefix of the Graphite paths (default numbat): PREFIX.NODE.METRIC.")
    var graphitePrefix: String?

    @Option(help: "Seconds between pushes to Graphite (default 60).")
    var graphiteInterval: Double?

    @Option(help: "Nodes deployed at once, over all deployments (default 16).")
    var deployConcurrency: Int?

    @Option(help: "sqlite (the default: DATA_DIR/numbat.sqlite) or postgres://USER@HOST[:PORT]/DB.")
    var store: String?

    @Option(help: "With several servers on one PostgreSQL: the URL the other servers reach this one's API at (default: http:// and the listening address).")
    var advertiseURL: String?

    @Flag(help: "Need an API token from loopback callers too (a machine shared with other users).")
    var requireToken = false

    @Option(help: "For physical providers without a key: the ssh_config OpenSSH uses (ssh -F) instead of the server user's ~/.ssh/config.")
    var sshConfig: String?

    @Option(help: "For physical providers without a key: the ssh-agent socket OpenSSH uses (default: $SSH_AUTH_SOCK).")
    var sshAuthSock: String?

    @Option(help: "Host keys of OpenSSH logins: accept-new (the default: trust on first use), strict, or config (the ssh_config decides).")
    var sshHostKeys: String?

    @Option(help: "Send every collected sample to this Prometheus remote-write URL (repeatable), e.g. http://vm:8428/api/v1/write.")
    var remoteWrite: [String] = []

    @Option(help: "A file holding the bearer token for the --remote-write receivers.")
    var remoteWriteBearerTokenFile: String?

    @Option(help: "Basic-auth user name for the --remote-write receivers (the password from --remote-write-password-file).")
    var remoteWriteUsername: String?

    @Option(help: "A file holding the basic-auth password for the --remote-write receivers.")
    var remoteWritePasswordFile: String?

    @Option(help: "Most samples queued per --remote-write receiver; the oldest are dropped beyond it (default 100000).")
    var remoteWriteQueueCapacity: Int?

    @Option(help: "Seconds before a failed alert delivery is tried again, doubling after each failure (default 2).")
    var alertRetryInitial: Double?

    @Option(help: "Longest wait between attempts of an alert delivery, in seconds (default 300).")
    var alertRetryMax: Double?

    @Option(help: "Attempts of an alert delivery before it is marked failed (default 15).")
    var alertRetryAttempts: Int?

    @Option(help: "Seconds a server holds the alert deliveries it claimed; longer than --alert-send-timeout (default 120).")
    var alertLease: Double?

    @Option(help: "Seconds between looks at the alert queue when nothing woke it (default 1).")
    var alertPoll: Double?

    @Option(help: "Longest single alert send (an HTTP request, an SMTP conversation), in seconds (default 15).")
    var alertSendTimeout: Double?

    /// glibc malloc arenas for `serve` unless `MALLOC_ARENA_MAX` says otherwise: at 1,000
    /// simulated nodes, resident memory per node was 105-132 KB with glibc's default (up to
    /// eight arenas a core) and 89-97 KB with two (docs/benchmarks.md, issue #16 eighth pass).
    static let heapArenas = 2

    /// glibc malloc's mapping and trim thresholds for `serve` (its own start at 128 KiB for
    /// both, and rise as large blocks are freed), fixed unless `MALLOC_MMAP_THRESHOLD_` or
    /// `MALLOC_TRIM_THRESHOLD_` say otherwise. At 1,000 simulated nodes, resident memory per
    /// node was 86 KB with glibc's rising thresholds, 77 with both fixed at 128 KiB, 64-68 with
    /// mappings from 32 KiB and 63-66 from 16 KiB (docs/benchmarks.md, issue #16 ninth pass): the
    /// blocks of 16 KiB and more are a node's start (its agents' code) and large answers; five
    /// nodes collected every second made 7 mappings in 20 s (at 8 KiB, 42).
    static let heapThresholds = (mapping: 16 * 1024, trim: 128 * 1024)

    func run() async throws {
        // Before the server's threads first allocate (each would take an arena of its own).
        // What glibc was told, by its variables or its tunables, it keeps.
        let tuning = ProcessFootprint.HeapTuning(environment: ProcessInfo.processInfo.environment)
        if tuning.limitArenas { ProcessFootprint.limitHeapArenas(to: Self.heapArenas) }
        if tuning.fixThresholds {
            ProcessFootprint.fixHeapThresholds(mapping: Self.heapThresholds.mapping, trim: Self.heapThresholds.trim)
        }
        // A connection per managed node: thousands need more than the usual 1,024 files.
        ProcessLimits.raiseOpenFiles()
        let flags = ServerConfiguration.Overrides(
            host: host, port: port, dataDirectory: dataDir, nodeName: nodeName, logLevel: logLevel,
            reconnectInitialSeconds: reconnectInitial, reconnectMaximumSeconds: reconnectMax,
            metricsIntervalSeconds: metricsInterval, metricsRetention: metricsRetention, graphiteHost: graphiteHost,
            graphitePort: graphitePort, graphitePrefix: graphitePrefix, graphiteIntervalSeconds: graphiteInterval,
            deployConcurrency: deployConcurrency, requireToken: requireToken ? true : nil, store: store,
            advertiseURL: advertiseURL, sshConfig: sshConfig, sshAuthSock: sshAuthSock, sshHostKeys: sshHostKeys,
            remoteWrite: remoteWriteEntries, netTicktimeSeconds: netTicktime, busyWaitMicroseconds: busyWait, alertRetryInitialSeconds: alertRetryInitial,
            alertRetryMaximumSeconds: alertRetryMax, alertRetryMaximumAttempts: alertRetryAttempts, alertLeaseSeconds: alertLease,
            alertPollSeconds: alertPoll, alertSendTimeoutSeconds: alertSendTimeout)
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration.load(file: config, environment: ProcessInfo.processInfo.environment, flags: flags)
        } catch {
            throw ValidationError("\(error)")
        }
        let server = try NumbatServer(configuration: configuration)
        try await server.run { channel in
            let address = channel.localAddress.map { "\($0.ipAddress ?? configuration.host):\($0.port ?? configuration.port)" } ?? "?"
            // Written straight to the file descriptor: scripts wait for this line.
            FileHandle.standardOutput.write(Data("numbat listening on http://\(address)\n".utf8))
        }
    }

    func validate() throws {
        if remoteWrite.isEmpty, remoteWriteBearerTokenFile != nil || remoteWriteUsername != nil || remoteWritePasswordFile != nil || remoteWriteQueueCapacity != nil {
            throw ValidationError("the --remote-write-* options apply to --remote-write URLs; give at least one")
        }
        if remoteWritePasswordFile != nil, remoteWriteUsername == nil {
            throw ValidationError("--remote-write-password-file needs --remote-write-username")
        }
    }

    /// The --remote-write URLs, each with the --remote-write-* options; nil without any (the
    /// file's or environment's list stays).
    var remoteWriteEntries: [ServerConfiguration.RemoteWriteEntry]? {
        guard !remoteWrite.isEmpty else { return nil }
        let basic = remoteWriteUsername.map { ServerConfiguration.RemoteWriteEntry.BasicAuth(username: $0, passwordFile: remoteWritePasswordFile) }
        return remoteWrite.map {
            ServerConfiguration.RemoteWriteEntry(url: $0, basicAuth: basic, bearerTokenFile: remoteWriteBearerTokenFile,
                                                 queueCapacity: remoteWriteQueueCapacity)
        }
    }
}
