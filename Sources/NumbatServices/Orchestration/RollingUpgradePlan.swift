import Foundation

/// A rolling upgrade of a family as a value: the nodes in order, how many switch at once, how
/// far each got. The driver (`OrchestrationService+Upgrades.swift`) asks `next()` what to do,
/// does it, and reports back with `record`; the plan is stored after every change, so a restart
/// finds it and finishes it cleanly (`interrupted`: the batch in flight is rolled back).
///
/// One batch at a time: every node of the batch goes installing -> switching -> checking ->
/// upgraded. A node that fails stops the upgrade: once the batch has settled, every node of it
/// that was touched (the failed one included) is rolled back, the nodes of later batches are
/// never touched, and the upgrade is `failed` with the first failure's reason.
struct RollingUpgradePlan: Codable, Sendable, Equatable {
    enum Phase: String, Codable, Sendable, CaseIterable {
        case pending
        /// The new release on the host, unpacked beside the running one (a copy kept for rollback).
        case installing
        /// The hot upgrade (release_handler with the release's relup), or stop and start.
        case switching
        /// Waiting until the node is UP, rejoined and runs the new version.
        case checking
        case upgraded
        case failed
        case rollingBack = "rolling_back"
        case rolledBack = "rolled_back"
        case rollbackFailed = "rollback_failed"

        /// Work was started on the node and not finished: it may run something half-switched.
        var inFlight: Bool { self == .installing || self == .switching || self == .checking }
    }

    enum State: String, Codable, Sendable {
        case running, succeeded, failed
    }

    struct Node: Codable, Sendable, Equatable {
        var id: UUID
        var phase: Phase = .pending
        /// `relup` or `restart`, once the switch chose.
        var method: String?
        var message: String?
        /// The phase a failed node failed in: one that failed while installing still runs
        /// the release it ran, untouched, and needs no restart to roll back.
        var failedIn: Phase?
        /// Which batch the node is in (0-based).
        var batch: Int
    }

    enum Action: Equatable {
        /// Upgrade these nodes together (the next batch).
        case upgrade([UUID])
        /// Put these nodes back on the release they ran before.
        case rollBack([UUID])
        /// Nothing left: the upgrade ended in `state`.
        case finish(State)
    }

    /// What a node's work reported.
    enum Event: Equatable {
        case phase(Phase, method: String? = nil)
        case failed(String)
        case rolledBack
        case rollbackFailed(String)
    }

    private(set) var nodes: [Node]
    let batchSize: Int
    private(set) var state: State = .running
    /// The first failure, in words: why the upgrade stopped.
    private(set) var reason: String?

    init(nodes: [UUID], batchSize: Int) {
        let size = max(1, batchSize)
        self.batchSize = size
        self.nodes = nodes.enumerated().map { Node(id: $1, batch: $0 / size) }
    }

    func node(_ id: UUID) -> Node? { nodes.first { $0.id == id } }

    /// The next thing to do. Called only when no node's work is running.
    mutating func next() -> Action {
        if state != .running { return .finish(state) }
        if reason != nil {
            let back = nodes.filter { $0.phase.inFlight || $0.phase == .failed || $0.phase == .upgraded && inFailedBatch($0) }
            if back.isEmpty {
                state = .failed
                return .finish(.failed)
            }
            for index in nodes.indices where back.contains(where: { $0.id == nodes[index].id }) {
                nodes[index].phase = .rollingBack
            }
            return .rollBack(back.map(\.id))
        }
        guard let batch = nodes.first(where: { $0.phase == .pending })?.batch else {
            state = .succeeded
            return .finish(.succeeded)
        }
        return .upgrade(nodes.filter { $0.batch == batch && $0.phase == .pending }.map(\.id))
    }

    /// A node's work moved on.
    mutating func record(_ id: UUID, _ event: Event) {
        guard let index = nodes.firstIndex(where: { $0.id == id }) else { return }
        switch event {
        case .phase(let phase, let method):
            nodes[index].phase = phase
            if let method { nodes[index].method = method }
        case .failed(let message):
            if nodes[index].phase != .failed { nodes[index].failedIn = nodes[index].phase }
            nodes[index].phase = .failed
            nodes[index].message = message
            if reason == nil { reason = "\(id.uuidString.lowercased()): \(message)" }
        case .rolledBack:
            nodes[index].phase = .rolledBack
        case .rollbackFailed(let message):
            nodes[index].phase = .rollbackFailed
            nodes[index].message = (nodes[index].message.map { $0 + "; " } ?? "") + "rollback: " + message
        }
    }

    /// The server running the upgrade stopped while nodes were in flight: they count as failed
    /// (and are rolled back); a rollback cut short is run again.
    mutating func interrupted(_ why: String) {
        guard state == .running else { return }
        for index in nodes.indices {
            if nodes[index].phase.inFlight {
                record(nodes[index].id, .failed("interrupted during \(nodes[index].phase.rawValue): \(why)"))
            } else if nodes[index].phase == .rollingBack {
                nodes[index].phase = .failed
            }
        }
    }

    /// Whether the node is in the batch where the upgrade failed: its upgraded nodes go back too.
    private func inFailedBatch(_ node: Node) -> Bool {
        nodes.contains { $0.batch == node.batch && ($0.phase == .failed || $0.phase.inFlight) }
    }
}
