import Foundation
import Logging
import NumbatProviders
import NumbatServices
import NumbatStore

/// Everything `numbat serve` can be told, from a JSON file, environment variables and flags,
/// each overriding the one before.
public struct ServerConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = "./numbat-data"
    /// The hidden node's name (alive part; the host part follows each peer's name style).
    public var nodeName = "numbat"
    public var logLevel: Logger.Level = .info
    public var reconnectInitialSeconds: Double = 2
    public var reconnectMaximumSeconds: Double = 30
    /// Like a node's `-kernel net_ticktime`: a managed node silent this long (a cut link, a frozen
    /// machine) is DOWN. Erlang's default, 60 s; the nodes' own setting should match.
    public var netTicktimeSeconds = 60
    /// How long an rpc's caller keeps a CPU awake for a quick reply, in microseconds, as the
    /// BEAM's schedulers spin before they sleep (`LocalNode.Configuration.busyWait`); 0: never.
    public var busyWaitMicroseconds = 200
    /// The metrics collection cycle (seed: one minute); nodes may have their own.
    public var metricsIntervalSeconds: Double = 60
    /// How long metric history is kept, at which resolutions (`raw:1h,5m:1d,15m:1w`).
    public var metricsRetention = "raw:1h,5m:1d,15m:1w"
    /// Graphite (carbon plaintext) to push metrics to; nil: no push.
    public var graphiteHost: String?
    public var graphitePort = 2003
    public var graphitePrefix = "numbat"
    /// Nodes deployed at once, over all deployment requests.
    public var deployConcurrency = 16
    public var graphiteIntervalSeconds: Double = 60
    /// Tokens even from loopback: for machines whose other users must not reach the API.
    public var requireToken = false
    /// Where the rows live: the embedded SQLite file in the data directory (the default), or a
    /// PostgreSQL database (`postgres://USER@HOST[:PORT]/DB`) that several servers may share.
    public var store: StoreLocation = .embedded
    /// The base URL the other servers of a cluster reach this one's API at (they forward to it
    /// the requests about the nodes it holds). Nil: `http://` the address it listens on, or the
    /// machine's host name when that is every address (`0.0.0.0`, `::`), and the bound port.
    public var advertiseURL: String?
    /// Physical providers without a key are reached with OpenSSH and the server user's setup:
    /// an ssh_config to use instead of `~/.ssh/config` (`ssh -F`; OpenSSH finds `~` in the
    /// passwd entry, not `$HOME`), the agent's socket instead of `SSH_AUTH_SOCK`, and what to do
    /// with a host key never seen (accept-new, strict or config).
    public var sshConfig: String?
    public var sshAuthSock: String?
    public var sshHostKeys: OpenSSHSettings.HostKeys = .acceptNew
    /// Alert delivery's retry schedule and queue timing (docs/alerts.md); tests shorten them.
    public var alerts = AlertsService.Settings()

    /// Prometheus remote-write receivers every collection is also sent to (none: the local
    /// history only). See `ServerConfiguration+RemoteWrite.swift`.
    public var remoteWrite: [RemoteWriteSettings] = []

    public init() {}

    /// The parts of a configuration a source may set; unset parts leave the value as it was.
    public struct Overrides: Codable, Sendable, Equatable {
        public var host: String?
        public var port: Int?
        public var dataDirectory: String?
        public var nodeName: String?
        public var logLevel: String?
        public var reconnectInitialSeconds: Double?
        public var reconnectMaximumSeconds: Double?
        public var netTicktimeSeconds: Int?
        public var busyWaitMicroseconds: Int?
        public var metricsIntervalSeconds: Double?
        public var metricsRetention: String?
        public var graphiteHost: String?
        public var graphitePort: Int?
        public var graphitePrefix: String?
        public var deployConcurrency: Int?
        public var graphiteIntervalSeconds: Double?
        public var requireToken: Bool?
        public var store: String?
        public var advertiseURL: String?
        public var sshConfig: String?
        public var sshAuthSock: String?
        public var sshHostKeys: String?
        public var remoteWrite: [RemoteWriteEntry]?
        /// Alert delivery's timing (`ServerConfiguration+Alerts.swift`).
        public var alertRetryInitialSeconds: Double?
        public var alertRetryMaximumSeconds: Double?
        public var alertRetryMaximumAttempts: Int?
        public var alertLeaseSeconds: Double?
        public var alertPollSeconds: Double?
        public var alertSendTimeoutSeconds: Double?

        public init(host: String? = nil, port: Int? = nil, dataDirectory: String? = nil, nodeName: String? = nil,
                    logLevel: String? = nil, reconnectInitialSeconds: Double? = nil, reconnectMaximumSeconds: Double? = nil,
                    metricsIntervalSeconds: Double? = nil, metricsRetention: String? = nil, graphiteHost: String? = nil,
                    graphitePort: Int? = nil, graphitePrefix: String? = nil, graphiteIntervalSeconds: Double? = nil,
                    deployConcurrency: Int? = nil, requireToken: Bool? = nil, store: String? = nil, advertiseURL: String? = nil,
                    sshConfig: String? = nil, sshAuthSock: String? = nil, sshHostKeys: String? = nil,
                    remoteWrite: [RemoteWriteEntry]? = nil, netTicktimeSeconds: Int? = nil, busyWaitMicroseconds: Int? = nil,
                    alertRetryInitialSeconds: Double? = nil,
                    alertRetryMaximumSeconds: Double? = nil, alertRetryMaximumAttempts: Int? = nil,
                    alertLeaseSeconds: Double? = nil, alertPollSeconds: Double? = nil, alertSendTimeoutSeconds: Double? = nil)
        {
            self.netTicktimeSeconds = netTicktimeSeconds
            self.busyWaitMicroseconds = busyWaitMicroseconds
            self.alertRetryInitialSeconds = alertRetryInitialSeconds
            self.alertRetryMaximumSeconds = alertRetryMaximumSeconds
            self.alertRetryMaximumAttempts = alertRetryMaximumAttempts
            self.alertLeaseSeconds = alertLeaseSeconds
            self.alertPollSeconds = alertPollSeconds
            self.alertSendTimeoutSeconds = alertSendTimeoutSeconds
            self.remoteWrite = remoteWrite
            self.sshConfig = sshConfig
            self.sshAuthSock = sshAuthSock
            self.sshHostKeys = sshHostKeys
            self.store = store
            self.advertiseURL = advertiseURL
            self.requireToken = requireToken
            self.metricsIntervalSeconds = metricsIntervalSeconds
            self.metricsRetention = metricsRetention
            self.graphiteHost = graphiteHost
            self.graphitePort = graphitePort
            self.graphitePrefix = graphitePrefix
            self.deployConcurrency = deployConcurrency
            self.graphiteIntervalSeconds = graphiteIntervalSeconds
            self.host = host
            self.port = port
            self.dataDirectory = dataDirectory
            self.nodeName = nodeName
            self.logLevel = logLevel
            self.reconnectInitialSeconds = reconnectInitialSeconds
            self.reconnectMaximumSeconds = reconnectMaximumSeconds
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case host, port
            case dataDirectory = "data_dir"
            case nodeName = "node_name"
            case logLevel = "log_level"
            case reconnectInitialSeconds = "reconnect_initial_seconds"
            case reconnectMaximumSeconds = "reconnect_max_seconds"
            case netTicktimeSeconds = "net_ticktime_seconds"
            case busyWaitMicroseconds = "busy_wait_microseconds"
            case metricsIntervalSeconds = "metrics_interval_seconds"
            case metricsRetention = "metrics_retention"
            case graphiteHost = "graphite_host"
            case graphitePort = "graphite_port"
            case graphitePrefix = "graphite_prefix"
            case deployConcurrency = "deploy_concurrency"
            case graphiteIntervalSeconds = "graphite_interval_seconds"
            case requireToken = "require_token"
            case store
            case advertiseURL = "advertise_url"
            case sshConfig = "ssh_config"
            case sshAuthSock = "ssh_auth_sock"
            case sshHostKeys = "ssh_host_keys"
            case remoteWrite = "remote_write"
            case alertRetryInitialSeconds = "alert_retry_initial_seconds"
            case alertRetryMaximumSeconds = "alert_retry_max_seconds"
            case alertRetryMaximumAttempts = "alert_retry_max_attempts"
            case alertLeaseSeconds = "alert_lease_seconds"
            case alertPollSeconds = "alert_poll_seconds"
            case alertSendTimeoutSeconds = "alert_send_timeout_seconds"
        }

        /// The environment variables read, `NUMBAT_` and the file key in capitals.
        public static func fromEnvironment(_ environment: [String: String]) throws -> Overrides {
            func value(_ key: CodingKeys) -> String? { environment["NUMBAT_" + key.rawValue.uppercased()] }
            func number<T: LosslessStringConvertible>(_ key: CodingKeys) throws -> T? {
                guard let text = value(key) else { return nil }
                guard let parsed = T(text) else { throw ConfigurationError("NUMBAT_\(key.rawValue.uppercased())=\(text) is not a number") }
                return parsed
            }
            func flag(_ key: CodingKeys) throws -> Bool? {
                guard let text = value(key) else { return nil }
                switch text.lowercased() {
                case "1", "true", "yes": return true
                case "0", "false", "no": return false
                default: throw ConfigurationError("NUMBAT_\(key.rawValue.uppercased())=\(text) is not true or false")
                }
            }
            return Overrides(host: value(.host), port: try number(.port), dataDirectory: value(.dataDirectory),
                             nodeName: value(.nodeName), logLevel: value(.logLevel),
                             reconnectInitialSeconds: try number(.reconnectInitialSeconds),
                             reconnectMaximumSeconds: try number(.reconnectMaximumSeconds),
                             metricsIntervalSeconds: try number(.metricsIntervalSeconds),
                             metricsRetention: value(.metricsRetention), graphiteHost: value(.graphiteHost),
                             graphitePort: try number(.graphitePort), graphitePrefix: value(.graphitePrefix),
                             graphiteIntervalSeconds: try number(.graphiteIntervalSeconds),
                             deployConcurrency: try number(.deployConcurrency), requireToken: try flag(.requireToken),
                             store: value(.store), advertiseURL: value(.advertiseURL),
                             sshConfig: value(.sshConfig), sshAuthSock: value(.sshAuthSock), sshHostKeys: value(.sshHostKeys),
                             remoteWrite: value(.remoteWrite).map { $0.split(separator: ",").map { RemoteWriteEntry(url: $0.trimmingCharacters(in: .whitespaces)) } },
                             netTicktimeSeconds: try number(.netTicktimeSeconds),
                             busyWaitMicroseconds: try number(.busyWaitMicroseconds),
                             alertRetryInitialSeconds: try number(.alertRetryInitialSeconds),
                             alertRetryMaximumSeconds: try number(.alertRetryMaximumSeconds),
                             alertRetryMaximumAttempts: try number(.alertRetryMaximumAttempts),
                             alertLeaseSeconds: try number(.alertLeaseSeconds), alertPollSeconds: try number(.alertPollSeconds),
                             alertSendTimeoutSeconds: try number(.alertSendTimeoutSeconds))
        }

        /// A JSON file with the same keys, e.g. `{"port": 9090, "data_dir": "/var/lib/numbat"}`.
        public static func fromFile(_ path: String) throws -> Overrides {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw ConfigurationError("cannot read the configuration file \(path): \(error.localizedDescription)")
            }
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                let unknown = Set(object.keys).subtracting(CodingKeys.allCases.map(\.rawValue))
                if !unknown.isEmpty {
                    throw ConfigurationError("\(path): unknown setting(s) \(unknown.sorted().joined(separator: ", "))")
                }
            }
            do {
                return try JSONDecoder().decode(Overrides.self, from: data)
            } catch {
                throw ConfigurationError("\(path) is not a valid configuration: \(error)")
            }
        }
    }

    public mutating func apply(_ overrides: Overrides) throws {
        if let host = overrides.host { self.host = host }
        if let port = overrides.port {
            guard (0...65535).contains(port) else { throw ConfigurationError("port \(port) is out of range") }
            self.port = port
        }
        if let directory = overrides.dataDirectory { dataDirectory = directory }
        if let name = overrides.nodeName { nodeName = name }
        if let level = overrides.logLevel {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw ConfigurationError("log level \(level) is not one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = parsed
        }
        if let seconds = overrides.reconnectInitialSeconds { reconnectInitialSeconds = seconds }
        if let seconds = overrides.reconnectMaximumSeconds { reconnectMaximumSeconds = seconds }
        if let seconds = overrides.netTicktimeSeconds {
            guard (1...3600).contains(seconds) else { throw ConfigurationError("net_ticktime_seconds must be between 1 and 3600") }
            netTicktimeSeconds = seconds
        }
        if let microseconds = overrides.busyWaitMicroseconds {
            guard (0...10_000).contains(microseconds) else { throw ConfigurationError("busy_wait_microseconds must be between 0 and 10000") }
            busyWaitMicroseconds = microseconds
        }
        if let seconds = overrides.metricsIntervalSeconds {
            guard (1...86400).contains(seconds) else { throw ConfigurationError("the metrics interval must be between 1 and 86400 seconds") }
            metricsIntervalSeconds = seconds
        }
        if let retention = overrides.metricsRetention {
            do { _ = try RetentionSchedule(parsing: retention) } catch { throw ConfigurationError("\(error)") }
            metricsRetention = retention
        }
        if let host = overrides.graphiteHost { graphiteHost = host.isEmpty ? nil : host }
        if let port = overrides.graphitePort {
            guard (1...65535).contains(port) else { throw ConfigurationError("graphite port \(port) is out of range") }
            graphitePort = port
        }
        if let prefix = overrides.graphitePrefix { graphitePrefix = prefix }
        if let seconds = overrides.graphiteIntervalSeconds {
            guard (1...86400).contains(seconds) else { throw ConfigurationError("the Graphite interval must be between 1 and 86400 seconds") }
            graphiteIntervalSeconds = seconds
        }
        if let concurrency = overrides.deployConcurrency {
            guard (1...1000).contains(concurrency) else { throw ConfigurationError("the deploy concurrency must be between 1 and 1000") }
            deployConcurrency = concurrency
        }
        if let require = overrides.requireToken { requireToken = require }
        if let text = overrides.store {
            do { store = try StoreLocation(parsing: text) } catch { throw ConfigurationError("store: \(error)") }
        }
        if let text = overrides.advertiseURL {
            if text.isEmpty {
                advertiseURL = nil
            } else {
                guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host?.isEmpty == false else {
                    throw ConfigurationError("advertise_url \(text) is not an http:// or https:// URL")
                }
                advertiseURL = text
            }
        }
        if let path = overrides.sshConfig { sshConfig = path.isEmpty ? nil : path }
        if let path = overrides.sshAuthSock { sshAuthSock = path.isEmpty ? nil : path }
        if let text = overrides.sshHostKeys {
            guard let policy = OpenSSHSettings.HostKeys(rawValue: text) else {
                throw ConfigurationError("ssh_host_keys is one of \(OpenSSHSettings.HostKeys.allCases.map(\.rawValue).joined(separator: ", ")), not \(text)")
            }
            sshHostKeys = policy
        }
        if let entries = overrides.remoteWrite { remoteWrite = try entries.map { try $0.settings() } }
        try applyAlerts(overrides)
        guard reconnectInitialSeconds > 0, reconnectMaximumSeconds >= reconnectInitialSeconds else {
            throw ConfigurationError("reconnect delays must be positive, the maximum at least the initial one")
        }
    }

    /// File, then environment, then flags.
    public static func load(file: String?, environment: [String: String], flags: Overrides) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        if let file = file ?? environment["NUMBAT_CONFIG"] { try configuration.apply(try .fromFile(file)) }
        try configuration.apply(try .fromEnvironment(environment))
        try configuration.apply(flags)
        return configuration
    }

    /// Whether the server listens on loopback only: only then may loopback callers skip tokens.
    public var listensOnLoopbackOnly: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Loopback callers skip tokens on a loopback-only server, unless told to need them.
    public var allowsLoopbackWithoutToken: Bool { listensOnLoopbackOnly && !requireToken }

    /// Where the other servers of a cluster reach this one's API, once it listens on `address`
    /// (`boundPort`: the port actually bound, for `--port 0`).
    public func advertisedURL(boundAddress: String?, boundPort: Int?) -> String {
        if let advertiseURL { return advertiseURL }
        let wildcard = ["", "0.0.0.0", "::", "[::]", "*"].contains(host)
        var name = wildcard ? ProcessInfo.processInfo.hostName : (boundAddress ?? host)
        if name.contains(":"), !name.hasPrefix("[") { name = "[\(name)]" }
        return "http://\(name):\(boundPort ?? port)"
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
