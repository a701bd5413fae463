import Foundation
import NumbatCore

/// What a WebSocket client sends on `/api/ws` to choose its events:
/// `{"subscribe": {"topics": ["deployment"], "nodes": [...]}}`.
public struct SubscribeRequest: Codable, Sendable, Equatable {
    public struct Subscription: Codable, Sendable, Equatable {
        public var topics: [String]
        public var nodes: [String]?
    }

    public var subscribe: Subscription

    public init(topics: [String], nodes: [String]? = nil) {
        subscribe = Subscription(topics: topics, nodes: nodes)
    }
}

/// An event as a WebSocket client reads it: its `type` (`subscribed`, `deployment_done`,
/// `notification`, ...) and the payloads the client follows; others stay undecoded.
public struct EventMessageBody: Decodable, Sendable {
    public var type: String?
    public var deployment: DeploymentProgress?
    public var notification: NodeNotification?
    /// `trace_session`: the session as it is now.
    public var session: TraceSession?
    /// `trace_events`: a batch of one node's events.
    public var events: [TraceEvent]?
    /// A rolling upgrade's progress (`upgrade_*` events).
    public var upgrade: UpgradeProgress?

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        deployment = try container.decodeIfPresent(DeploymentProgress.self, forKey: .deployment)
        notification = try container.decodeIfPresent(NodeNotification.self, forKey: .notification)
        events = try container.decodeIfPresent([TraceEvent].self, forKey: .events)
        session = type == "trace_session" ? try container.decodeIfPresent(TraceSession.self, forKey: .session) : nil
        upgrade = try container.decodeIfPresent(UpgradeProgress.self, forKey: .upgrade)
    }

    enum CodingKeys: String, CodingKey { case type, deployment, notification, session, events, upgrade }
}
