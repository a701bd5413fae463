import ErlangDist
import ErlangTerm
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// The metrics service's per-node part: injects and starts the metrics agent (owned by a mailbox
/// of its own, which the agent monitors), then collects every `interval`, one agent call per
/// cycle. When the agent cannot run it says why (an `agentUnavailable` event) and polls BIFs
/// instead, trying the agent again later (after 30 s, doubling up to 10 minutes): a failure may
/// pass (a hand-over between servers, a node busy at its start). Between collections a node
/// has a timer, not a task (`PeriodicWork`), and a slow node delays nobody else.
final class NodeCollector: NodeWorker {
    let node: ManagedNode
    private let service: MetricsService
    private let owner = AgentOwner()
    private let cycles: PeriodicWork
    /// How this node is collected; nil until the agent has been tried.
    private let source = NIOLockedValueBox<MetricSnapshot.Source?>(nil)
    /// When an agent that could not run is tried again, and the wait after that.
    private let retry = NIOLockedValueBox((wait: agentRetry.first, next: ContinuousClock.now))
    static let agentName = "numbat_metrics_agent"

    init(node: ManagedNode, service: MetricsService) {
        self.node = node
        self.service = service
        self.cycles = service.nodes.periodicWork(near: node, in: service.collections)
    }

    /// Starts the agent (in a task that ends once it is started or found unavailable), then
    /// the collections.
    func start() {
        owner.run(for: node, nodes: service.nodes) {
            self.source.withLockedValue { $0 = nil }
            let prepared = await self.prepareAgent()
            self.source.withLockedValue { $0 = prepared }
            self.retry.withLockedValue { $0 = (Self.agentRetry.first, ContinuousClock.now + Self.agentRetry.first) }
            self.cycles.start { await self.cycle() }
        }
    }

    /// Stops collecting; the agent removes itself from the node.
    func stop() async {
        await cycles.stop()
        await owner.stop()
    }

    /// The first wait before trying a failed agent again, and the longest.
    static let agentRetry: (first: Duration, longest: Duration) = (.seconds(30), .seconds(600))

    /// One cycle: the agent tried again if it is due, one collection recorded; returns the
    /// node's interval (the next starts an interval after this one's start, on its phase).
    private func cycle() async -> Duration {
        if source.withLockedValue({ $0 }) == .agentless, ContinuousClock.now >= retry.withLockedValue({ $0.next }) {
            // Said once already: a retry that fails again is only logged.
            let prepared = await prepareAgent(reportingFailure: false)
            source.withLockedValue { $0 = prepared }
            retry.withLockedValue { retry in
                retry.wait = min(retry.wait * 2, Self.agentRetry.longest)
                retry.next = ContinuousClock.now + retry.wait
            }
        }
        do {
            await service.record(try await collectOnce(), for: node)
        } catch {
            service.logger.debug("metrics collection failed", metadata: ["node": "\(node.name)", "error": "\(error)"])
        }
        return service.interval(for: node.id)
    }

    /// One collection, bounded by the service's collect timeout: the agent's one call, or BIF
    /// polling where the agent cannot run. Also used by live metrics.
    func collectOnce() async throws -> MetricSnapshot {
        switch source.withLockedValue({ $0 }) {
        case nil:
            throw MetricsError(message: "\(node.name): the metrics agent is still being started")
        case .agent:
            let timeout = service.settings.collectTimeout
            let milliseconds = Int(timeout.components.seconds * 1000)
            let reply: FlatTerm.Element
            do {
                // Read in place: the reply's dozens of tuples never become `Term`s.
                reply = try await service.nodes.rpcFlat(node, Atom(Self.agentName), "collect", [.integer(milliseconds)], timeout: timeout + .seconds(1))
            } catch let error as DistributionError where error.isUndefinedFunction {
                // The module went (deleted by a previous manager's agent as it left, during a
                // hand-over; a purge by hand): load and start it again.
                service.logger.info("metrics agent's code gone, loading it again", metadata: ["node": "\(node.name)"])
                let prepared = await prepareAgent()
                source.withLockedValue { $0 = prepared }
                return try await collectOnce()
            }
            if reply.kind == .tuple, reply.count == 2, reply.element(0)?.isAtom("error") == true, reply.element(1)?.isAtom("not_running") == true {
                // The agent went (a restart of the node's code server, a purge): start it again.
                service.logger.info("metrics agent gone, starting it again", metadata: ["node": "\(node.name)"])
                let prepared = await prepareAgent()
                source.withLockedValue { $0 = prepared }
                return try await collectOnce()
            }
            return try MetricSnapshot.fromAgent(reply, at: Date(), previous: service.latestSnapshot(for: node.id)?.values.layout)
        case .agentless:
            return try await AgentlessCollection.collect(from: node, nodes: service.nodes, timeout: service.settings.collectTimeout)
        }
    }

    /// Injects and starts the agent; on failure publishes why (unless told not to) and falls
    /// back to BIF polling.
    private func prepareAgent(reportingFailure: Bool = true) async -> MetricSnapshot.Source {
        do {
            _ = try await owner.launch(Self.agentName, on: node, nodes: service.nodes)
            return .agent
        } catch {
            // Stopped while injecting, or the node's connection went (the node went, was handed
            // to another server, the server stops): nothing to report.
            let reason = (error as? NumbatError)?.message ?? "\(error)"
            guard reportingFailure, AgentOwner.isWorthReporting(error) else {
                service.logger.debug("metrics agent still unavailable", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
                return .agentless
            }
            service.logger.warning("metrics agent unavailable, polling without it", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
            service.bus.publish(.agentUnavailable(node: node, agent: Self.agentName, reason: reason,
                                                  fallback: "agentless rpc polling of the core metrics"))
            return .agentless
        }
    }
}
