/// The topics WebSocket clients subscribe to. The one list: the WebSocket's hello message, the
/// subscription filter's validation and the OpenAPI document are all built from it, so a new
/// kind of event cannot be published on a topic that clients are not told about.
public enum EventTopic: String, Codable, Sendable, CaseIterable {
    /// Nodes added, changing state, removed.
    case node
    /// Families created and removed.
    case family
    /// An agent that could not be injected or started.
    case agent
    /// Stored notifications (log events, Numbat's own).
    case notification
    /// Alarm lifecycle changes.
    case alarm
    /// Deployment steps, node actions and rolling upgrades.
    case deployment
    /// Trace sessions started and ended, and the events they keep (in batches per node).
    case trace

    /// Every topic's name, in order: `node, family, ...`.
    public static var names: [String] { allCases.map(\.rawValue) }
}
