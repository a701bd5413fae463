import Foundation
import NumbatCore

/// Which events a WebSocket client wants: by topic (`node`, `family`, ...) and by node id; nil
/// means all. Clients change it with `{"subscribe": {"topics": [...], "nodes": [...]}}`. Pure.
struct SubscriptionFilter: Sendable, Equatable, Codable {
    var topics: Set<String>?
    var nodes: Set<UUID>?

    static let everything = SubscriptionFilter(topics: nil, nodes: nil)

    func matches(_ event: NumbatEvent) -> Bool {
        if let topics, !topics.contains(event.topic) { return false }
        if let nodes {
            // Node filters apply to node events; events about no node pass by topic alone.
            guard let id = event.nodeID else { return true }
            return nodes.contains(id)
        }
        return true
    }

    /// The message a client sends to change its filter.
    struct Request: Codable {
        var subscribe: SubscriptionFilter
    }
}
