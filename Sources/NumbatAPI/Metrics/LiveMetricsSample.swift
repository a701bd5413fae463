import Foundation

/// One frame of `GET /api/metrics/live` (WebSocket): the watched node's metrics at `t`, or the
/// reason a second has no values. `numbat metrics live` and the dashboard's live charts read it.
public struct LiveMetricsSample: Codable, Sendable, Equatable {
    /// Always `live`: the socket's other frame is `{"type": "error", "message"}`, the answer to a
    /// request the server could not read.
    public var type: String
    public var node: UUID
    public var t: Date
    /// The watched metrics' values, by name.
    public var values: [String: Double]
    /// Why this second has no values (the node did not answer); absent otherwise.
    public var error: String?

    public init(node: UUID, t: Date, values: [String: Double], error: String?) {
        type = "live"
        self.node = node
        self.t = t
        self.values = values
        self.error = error
    }
}
