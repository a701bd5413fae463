import Foundation
import NIOConcurrencyHelpers

/// The periodic work of one service's nodes (every node's metric collection, or every node's
/// alarm checks): counts the works started and not stopped, and from that count divides the
/// interval into phases (`RunPhase.phases(members:current:)`, which changes them only past a
/// margin) and gives each node its `RunPhase`.
final class PeriodicWorkGroup: Sendable {
    private struct Members {
        var count = 0
        var phases = 1

        mutating func changed(by delta: Int) {
            count = max(0, count + delta)
            phases = RunPhase.phases(members: count, current: phases)
        }
    }

    private let members = NIOLockedValueBox(Members())

    init() {}

    /// How many works of the group are started and not stopped.
    var count: Int { members.withLockedValue { $0.count } }

    /// How many phases the interval is divided into now.
    var phases: Int { members.withLockedValue { $0.phases } }

    func join() { members.withLockedValue { $0.changed(by: 1) } }

    func leave() { members.withLockedValue { $0.changed(by: -1) } }

    /// The phase of `node`'s runs while the group has its present phases.
    func phase(of node: UUID) -> RunPhase {
        RunPhase(node: node, phases: phases)
    }
}
