import Foundation
import NumbatCore

/// An event as WebSocket clients see it: `{"type": "node_down", "topic": "node", "time": ...,
/// ...}` with the event's own fields beside. A state change's type names the new state
/// (`node_up`, `node_down`, `node_error`, ...). An event relayed from another server of a
/// cluster carries that server's id as `server`.
struct EventMessage: Encodable {
    let event: NumbatEvent
    /// The server where it happened, when not this one.
    var server: UUID? = nil

    enum Keys: String, CodingKey {
        case type, topic, time, server, node, from, id, name, family, agent, reason, fallback, notification, alarm, deployment, session, events, upgrade
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(event.topic, forKey: .topic)
        try container.encode(event.time, forKey: .time)
        try container.encodeIfPresent(server, forKey: .server)
        switch event.kind {
        case .nodeAdded(let node):
            try container.encode("node_added", forKey: .type)
            try container.encode(node, forKey: .node)
        case .nodeStateChanged(let node, let from):
            try container.encode("node_" + node.state.rawValue.lowercased(), forKey: .type)
            try container.encode(node, forKey: .node)
            try container.encode(from, forKey: .from)
        case .nodeRemoved(let id, let name):
            try container.encode("node_removed", forKey: .type)
            try container.encode(id, forKey: .id)
            try container.encode(name, forKey: .name)
        case .nodeAdopted(let node):
            try container.encode("node_adopted", forKey: .type)
            try container.encode(node, forKey: .node)
        case .nodeReleased(let id, let name):
            try container.encode("node_released", forKey: .type)
            try container.encode(id, forKey: .id)
            try container.encode(name, forKey: .name)
        case .familyCreated(let family):
            try container.encode("family_created", forKey: .type)
            try container.encode(family, forKey: .family)
        case .familyRemoved(let id, let name):
            try container.encode("family_removed", forKey: .type)
            try container.encode(id, forKey: .id)
            try container.encode(name, forKey: .name)
        case .agentUnavailable(let node, let agent, let reason, let fallback):
            try container.encode("agent_unavailable", forKey: .type)
            try container.encode(node, forKey: .node)
            try container.encode(agent, forKey: .agent)
            try container.encode(reason, forKey: .reason)
            try container.encode(fallback, forKey: .fallback)
        case .notification(let notification):
            try container.encode("notification", forKey: .type)
            try container.encode(notification, forKey: .notification)
        case .alarm(let change):
            // `alarm_raised`, `alarm_repeated`, `alarm_escalated`, `alarm_acknowledged`, ...
            try container.encode("alarm_" + change.kind.rawValue, forKey: .type)
            try container.encode(change.alarm, forKey: .alarm)
        case .deployment(let progress):
            try container.encode(progress.eventType, forKey: .type)
            try container.encode(progress, forKey: .deployment)
        case .traceSession(let session):
            try container.encode("trace_session", forKey: .type)
            try container.encode(session, forKey: .session)
        case .traceEvents(let session, let node, let events):
            try container.encode("trace_events", forKey: .type)
            try container.encode(session, forKey: .session)
            try container.encode(node, forKey: .node)
            try container.encode(events, forKey: .events)
        case .upgrade(let progress):
            try container.encode(progress.eventType, forKey: .type)
            try container.encode(progress, forKey: .upgrade)
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    var json: String { String(decoding: (try? Self.encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self) }
}
