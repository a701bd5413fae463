import Foundation
import NumbatCore

/// Which events a WebSocket client wants: by topic (`EventTopic`) and by node id; nil means all.
/// Clients change it with `{"subscribe": {"topics": [...], "nodes": [...]}}`. Pure.
struct SubscriptionFilter: Sendable, Equatable, Codable {
    var topics: Set<EventTopic>?
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

    /// Reads a client's subscription message; the error says what was wrong in words.
    static func parse(_ text: String) -> Result<SubscriptionFilter, SubscriptionError> {
        struct Loose: Decodable {
            struct Subscribe: Decodable {
                var topics: [String]?
                var nodes: [String]?
            }
            var subscribe: Subscribe
        }
        guard let request = try? JSONDecoder().decode(Loose.self, from: Data(text.utf8)) else {
            return .failure(SubscriptionError(message: #"expected {"subscribe": {"topics": [...], "nodes": [...]}}"#))
        }
        var filter = SubscriptionFilter.everything
        if let names = request.subscribe.topics {
            let unknown = names.filter { EventTopic(rawValue: $0) == nil }
            guard unknown.isEmpty else {
                return .failure(SubscriptionError(message: "unknown topic(s) \(unknown.joined(separator: ", ")); topics: \(EventTopic.names.joined(separator: ", "))"))
            }
            filter.topics = Set(names.compactMap(EventTopic.init(rawValue:)))
        }
        if let ids = request.subscribe.nodes {
            let parsed = ids.compactMap(UUID.init(uuidString:))
            guard parsed.count == ids.count else {
                return .failure(SubscriptionError(message: "nodes must be node ids (UUIDs)"))
            }
            filter.nodes = Set(parsed)
        }
        return .success(filter)
    }
}

struct SubscriptionError: Error, Equatable {
    var message: String
}

/// What the server says on the WebSocket besides events.
struct SocketMessage: Encodable {
    var type: String
    var topics: [String]?
    var message: String?

    /// The first frame: every topic a client may subscribe to.
    static let hello = SocketMessage(type: "hello", topics: EventTopic.names)
    static let subscribed = SocketMessage(type: "subscribed")
    static func error(_ message: String) -> SocketMessage { SocketMessage(type: "error", message: message) }

    var json: String {
        String(decoding: (try? EventMessage.encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
