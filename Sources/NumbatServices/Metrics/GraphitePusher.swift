import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Pushes every node's latest metrics to Graphite (carbon's plaintext protocol, one
/// `path value timestamp` line per metric) every `interval`: the seed's export to external
/// tools. Paths are `prefix.node.metric`, the node name made path-safe (`app@db1.example.com`
/// becomes `app_db1_example_com`, as Graphite splits paths at dots).
public final class GraphitePusher: Sendable {
    public struct Settings: Sendable, Equatable {
        public var host: String
        public var port: Int = 2003
        public var prefix: String = "numbat"
        public var interval: Duration = .seconds(60)
        public init(host: String, port: Int = 2003, prefix: String = "numbat", interval: Duration = .seconds(60)) {
            self.host = host
            self.port = port
            self.prefix = prefix
            self.interval = interval
        }
    }

    public struct NodeValues: Sendable {
        public var node: String
        public var time: Date
        public var values: MetricValues
    }

    let settings: Settings
    let logger: Logger
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let failing = NIOLockedValueBox(false)

    init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    func start(source: @escaping @Sendable () async -> [NodeValues]) {
        task.withLockedValue { task in
            task = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.settings.interval)
                    guard !Task.isCancelled else { return }
                    await self.pushLogging(await source())
                }
            }
        }
    }

    func stop() async {
        let running = task.withLockedValue { $0 }
        running?.cancel()
        await running?.value
    }

    /// The plaintext lines for these values.
    static func lines(_ nodes: [NodeValues], prefix: String) -> String {
        var text = ""
        for node in nodes {
            let base = (prefix.isEmpty ? "" : prefix + ".") + pathSafe(node.node)
            let timestamp = Int(node.time.timeIntervalSince1970)
            for (metric, value) in node.values.sorted(by: { $0.key < $1.key }) where value.isFinite {
                text += "\(base).\(pathSafe(metric)) \(Self.number(value)) \(timestamp)\n"
            }
        }
        return text
    }

    public static func pathSafe(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "_" })
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// Sends one batch over a fresh connection.
    public func push(_ nodes: [NodeValues]) async throws {
        let text = Self.lines(nodes, prefix: settings.prefix)
        guard !text.isEmpty else { return }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: settings.host, port: settings.port).get()
        do {
            try await channel.writeAndFlush(ByteBuffer(string: text)).get()
        } catch {
            try? await channel.close().get()
            throw error
        }
        try await channel.close().get()
    }

    private func pushLogging(_ nodes: [NodeValues]) async {
        do {
            try await push(nodes)
            if failing.withLockedValue({ was in defer { was = false }; return was }) {
                logger.notice("pushing to Graphite works again", metadata: ["graphite": "\(settings.host):\(settings.port)"])
            }
        } catch {
            // Said once per outage, not once a minute.
            if !failing.withLockedValue({ was in defer { was = true }; return was }) {
                logger.error("pushing to Graphite failed", metadata: ["graphite": "\(settings.host):\(settings.port)", "error": "\(error)"])
            }
        }
    }
}
