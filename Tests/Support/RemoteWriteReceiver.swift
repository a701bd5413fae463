import Foundation
import NumbatCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension Requirement {
    /// Debian's victoria-metrics (single-node VictoriaMetrics), a remote-write receiver with PromQL.
    public static let victoriaMetrics = Requirement("Debian's victoria-metrics (/usr/bin/victoria-metrics, scripts/install-test-deps.sh)") {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/victoria-metrics")
    }
    /// Debian's prometheus server, started with its remote-write receiver on.
    public static let prometheus = Requirement("Debian's prometheus (/usr/bin/prometheus, scripts/install-test-deps.sh)") {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus")
    }
}

/// A real remote-write receiver for one test: Debian's VictoriaMetrics or Prometheus (with
/// `--web.enable-remote-write-receiver`) in a temporary directory on a loopback port of its
/// own, queried back through its PromQL HTTP API; killed and removed afterwards.
public final class RemoteWriteReceiver: Sendable {
    public enum Kind: String, Sendable {
        case victoriaMetrics = "VictoriaMetrics"
        case prometheus = "Prometheus"
        /// vmauth (from the same package) in front of a VictoriaMetrics: bearer tokens.
        case vmauth = "vmauth"
    }

    public let kind: Kind
    public let port: Int
    public let directory: URL
    /// The receiver's process (its CPU is measured by the benchmark).
    public let process: Subprocess

    /// Where Numbat sends: both take `/api/v1/write`.
    public var writeURL: String { "http://127.0.0.1:\(port)/api/v1/write" }

    /// Starts a receiver on `port` (a free one if nil); `basicAuth` protects VictoriaMetrics's
    /// every endpoint with that user and password (`-httpAuth.*`).
    private init(_ kind: Kind, port: Int?, basicAuth: (String, String)?, bearerToken: String? = nil, upstream: RemoteWriteReceiver? = nil) throws {
        self.kind = kind
        self.port = try port ?? freePort(onAll: ["127.0.0.1"])
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-\(kind.rawValue.lowercased())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var command: [String]
        switch kind {
        case .victoriaMetrics:
            // No latency offset: queries see samples as soon as they are written (default 30 s).
            command = ["/usr/bin/victoria-metrics", "-storageDataPath=\(directory.path)/data", "-httpListenAddr=127.0.0.1:\(self.port)",
                       "-search.latencyOffset=0s", "-search.disableCache", "-retentionPeriod=1d", "-loggerLevel=WARN"]
            if let (user, password) = basicAuth { command += ["-httpAuth.username=\(user)", "-httpAuth.password=\(password)"] }
        case .vmauth:
            let configuration = directory.appendingPathComponent("auth.yml")
            try "users:\n- bearer_token: \"\(bearerToken ?? "")\"\n  url_prefix: \"http://127.0.0.1:\(upstream?.port ?? 0)\"\n"
                .write(to: configuration, atomically: true, encoding: .utf8)
            command = ["/usr/bin/vmauth", "-auth.config=\(configuration.path)", "-httpListenAddr=127.0.0.1:\(self.port)", "-loggerLevel=WARN"]
        case .prometheus:
            let configuration = directory.appendingPathComponent("prometheus.yml")
            try "global:\n  scrape_interval: 1m\n".write(to: configuration, atomically: true, encoding: .utf8)
            command = ["/usr/bin/prometheus", "--config.file=\(configuration.path)", "--storage.tsdb.path=\(directory.path)/data",
                       "--web.listen-address=127.0.0.1:\(self.port)", "--web.enable-remote-write-receiver", "--log.level=warn"]
        }
        process = Subprocess()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec \"$@\" </dev/null >\"$0/console.log\" 2>&1", directory.path] + command
        try process.run()
    }

    /// Waits until the receiver answers its health check.
    private func waitUntilReady() async throws {
        let path = kind == .prometheus ? "/-/ready" : "/health"
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw ReceiverError(message: "\(kind.rawValue) exited: \(log)") }
            if let (status, _) = try? await get(path), status == 200 || status == 401 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ReceiverError(message: "\(kind.rawValue) did not answer on \(port): \(log)")
    }

    public var log: String {
        String(((try? String(contentsOf: directory.appendingPathComponent("console.log"), encoding: .utf8)) ?? "").suffix(2000))
    }

    public func get(_ path: String, authorization: String? = nil) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!, timeoutInterval: 10)
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// One series of an instant query's answer: its labels and raw samples (ms, value).
    public struct Series: Sendable {
        public var labels: [String: String]
        public var samples: [(timestamp: Int64, value: Double)]
    }

    /// `GET /api/v1/query` with a range selector (`metric{...}[10m]`): the raw samples stored.
    public func rawSamples(_ selector: String, authorization: String? = nil) async throws -> [Series] {
        var components = URLComponents()
        components.path = "/api/v1/query"
        components.queryItems = [URLQueryItem(name: "query", value: selector),
                                 URLQueryItem(name: "time", value: String(format: "%.3f", Date().timeIntervalSince1970))]
        let (status, data) = try await get(components.string!, authorization: authorization)
        let text = String(decoding: data, as: UTF8.self)
        guard status == 200, let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              answer["status"] as? String == "success", let payload = answer["data"] as? [String: Any]
        else { throw ReceiverError(message: "\(kind.rawValue) query \(selector): HTTP \(status) \(text.prefix(500))") }
        return (payload["result"] as? [[String: Any]] ?? []).map { entry in
            let labels = entry["metric"] as? [String: String] ?? [:]
            let samples = (entry["values"] as? [[Any]] ?? []).compactMap { pair -> (Int64, Double)? in
                guard pair.count == 2, let seconds = (pair[0] as? NSNumber)?.doubleValue, let value = (pair[1] as? String).flatMap(Double.init) else { return nil }
                return (Int64((seconds * 1000).rounded()), value)
            }
            return Series(labels: labels, samples: samples)
        }
    }

    public func stop() async {
        let pid = process.processIdentifier
        _ = try? await offPool { killAndReap(pid) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with vmauth in front of `upstream` (a VictoriaMetrics), letting through only
    /// requests with `bearerToken`; stopped and removed afterwards whatever happens.
    public static func withBearerProxy<T>(token: String, upstream: RemoteWriteReceiver,
                                          _ body: (RemoteWriteReceiver) async throws -> T) async throws -> T
    {
        try await start(RemoteWriteReceiver(.vmauth, port: nil, basicAuth: nil, bearerToken: token, upstream: upstream), body)
    }

    /// Runs `body` with a started receiver, stopped and removed afterwards whatever happens.
    public static func with<T>(_ kind: Kind, port: Int? = nil, basicAuth: (String, String)? = nil,
                        _ body: (RemoteWriteReceiver) async throws -> T) async throws -> T
    {
        try await start(RemoteWriteReceiver(kind, port: port, basicAuth: basicAuth), body)
    }

    private static func start<T>(_ receiver: RemoteWriteReceiver, _ body: (RemoteWriteReceiver) async throws -> T) async throws -> T {
        do {
            try await receiver.waitUntilReady()
            let result = try await body(receiver)
            await receiver.stop()
            return result
        } catch {
            await receiver.stop()
            throw error
        }
    }
}

public struct ReceiverError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
