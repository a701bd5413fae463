import Foundation
import NIOConcurrencyHelpers

/// The periodic work of one service's nodes (every node's metric collection, or every node's
/// alarm checks): counts the works started and not stopped, and from that count gives each
/// node its `RunPhase`. The group's one piece of state is its count.
final class PeriodicWorkGroup: Sendable {
    private let members = NIOLockedValueBox(0)

    init() {}

    /// How many works of the group are started and not stopped.
    var count: Int { members.withLockedValue { $0 } }

    func join() { members.withLockedValue { $0 += 1 } }

    func leave() { members.withLockedValue { $0 = max(0, $0 - 1) } }

    /// The phase of `node`'s runs while the group has its present count.
    func phase(of node: UUID) -> RunPhase {
        RunPhase(node: node, members: count)
    }
}
