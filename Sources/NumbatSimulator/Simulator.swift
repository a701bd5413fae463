import ErlangDist
import ErlangTerm
import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// `numbat-sim`: N simulated Erlang nodes in one process for load tests (issue 13). Each is a
/// real distribution endpoint (own name, loopback address and port, the real handshake and
/// ticks, `rex`), answered by `SimulatedBehaviour` from a profile recorded on a real node; the
/// simulator's own EPMD answers for them; an emitter sends log events and SASL alarms at the
/// configured rates to the agents' owners. It is a simulator: nothing in it runs Erlang code.
public final class Simulator: Sendable {
    public struct Settings: Sendable {
        public var layout: SimulatorLayout
        /// The indices this process simulates (a run may be split over processes: each keeps
        /// under the open-file limit with a listener and a connection per node).
        public var indices: Range<Int>
        public var cookie: String
        public var epmdPort: Int
        public var profile: SimulatorProfile
        /// Log events per node per minute, before the agent's level filter.
        public var logsPerMinute: Double = 2
        /// SASL alarms set per node per hour (each cleared again after 30-120 s).
        public var alarmsPerHour: Double = 1
        public var seed: UInt64 = 1

        public init(layout: SimulatorLayout, indices: Range<Int>, cookie: String, epmdPort: Int, profile: SimulatorProfile) {
            self.layout = layout
            self.indices = indices
            self.cookie = cookie
            self.epmdPort = epmdPort
            self.profile = profile
        }
    }

    public let settings: Settings
    private let epmd: SimulatorEPMD
    private let nodes = NIOLockedValueBox<[SimulatedNode]>([])
    private let emitter = NIOLockedValueBox<Task<Void, Never>?>(nil)

    public init(_ settings: Settings) {
        self.settings = settings
        epmd = SimulatorEPMD(port: settings.epmdPort)
    }

    /// Starts the EPMD answers and every node, `concurrency` at a time; returns their names.
    public func start(concurrency: Int = 64) async throws -> [NodeName] {
        let layout = settings.layout
        let hosts = Array(Set(settings.indices.map { layout.host(of: $0) })).sorted()
        for host in hosts { try await epmd.listen(on: host, group: MultiThreadedEventLoopGroup.singleton) }
        let started = ContinuousClock.now
        var made: [SimulatedNode] = []
        made.reserveCapacity(settings.indices.count)
        try await withThrowingTaskGroup(of: SimulatedNode.self) { group in
            var next = settings.indices.lowerBound
            func add() throws {
                let index = next
                next += 1
                let node = try SimulatedNode(index: index, layout: layout, cookie: settings.cookie, profile: settings.profile, started: started)
                group.addTask { [epmd] in
                    let port = try await node.start()
                    epmd.register(alive: node.name.alive, host: node.name.host, distributionPort: port)
                    return node
                }
            }
            while next < settings.indices.upperBound, next - settings.indices.lowerBound < concurrency { try add() }
            for try await node in group {
                made.append(node)
                if next < settings.indices.upperBound { try add() }
            }
        }
        made.sort { $0.index < $1.index }
        nodes.withLockedValue { $0 = made }
        startEmitter()
        return made.map(\.name)
    }

    public func stop() async {
        let task = emitter.withLockedValue { $0 }
        task?.cancel()
        await task?.value
        for node in nodes.withLockedValue({ $0 }) { await node.stop() }
        await epmd.close()
    }

    /// How many simulated nodes have a Numbat connected, and how many run each agent.
    public struct Census: Sendable, Equatable {
        public var nodes = 0
        public var connected = 0
        public var metricsAgents = 0
        /// Nodes whose behaviour answers `collect/1` (started and not stopped): the same as
        /// `metricsAgents` unless an agent's process and the behaviour disagree.
        public var metricsRunning = 0
        public var logAgents = 0
        public var alarmAgents = 0
    }

    public var census: Census {
        var census = Census()
        for node in nodes.withLockedValue({ $0 }) {
            census.nodes += 1
            if !node.local.connectedNodes.isEmpty { census.connected += 1 }
            let owners = node.owners
            if node.runs(.metrics) { census.metricsAgents += 1 }
            if node.behaviourRuns(.metrics) { census.metricsRunning += 1 }
            if owners.logs != nil { census.logAgents += 1 }
            if owners.alarms != nil { census.alarmAgents += 1 }
        }
        return census
    }

    // MARK: Log events and alarms

    private func startEmitter() {
        let task = Task { [self] in
            var plan = EmissionPlan(logsPerMinute: settings.logsPerMinute, alarmsPerHour: settings.alarmsPerHour, seed: settings.seed)
            let clock = ContinuousClock()
            var second = 0
            while !Task.isCancelled {
                guard (try? await clock.sleep(until: clock.now + .seconds(1))) != nil else { return }
                second += 1
                let now = Date()
                for node in nodes.withLockedValue({ $0 }) {
                    let owners = node.owners
                    for emission in plan.next(node: node.index, second: second, logLevel: owners.logs?.level, alarmAgent: owners.alarms != nil, now: now) {
                        switch emission {
                        case .logs(let batch):
                            if let logs = owners.logs { try? await logs.mailbox.send(batch, to: logs.owner) }
                        case .alarm(let message):
                            if let alarms = owners.alarms { try? await alarms.mailbox.send(message, to: alarms.owner) }
                        }
                    }
                }
            }
        }
        emitter.withLockedValue { $0 = task }
    }
}
