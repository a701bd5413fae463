import Foundation
import NumbatCore

/// `GET /api/topo/node_families/{id}/connectivity`: which member's `erlang:nodes()` holds which
/// other member (the connectivity matrix, one row per member), the sides the family's UP
/// members form (one side when it is whole), and the health of each distribution link
/// (bytes queued in the sender's distribution buffer for the peer, busy at the node's
/// `dist_buf_busy_limit`).
public struct FamilyConnectivityResponse: Codable, Sendable, Equatable {
    /// One member's view.
    public struct Row: Codable, Sendable, Equatable {
        public var id: UUID
        public var node: String
        public var state: NodeState
        /// False when the member is not UP or did not answer: `sees` is then empty and unknown.
        public var read: Bool
        /// The other members in its `erlang:nodes()`, by name.
        public var sees: [String]

        public init(id: UUID, node: String, state: NodeState, read: Bool, sees: [String]) {
            self.id = id
            self.node = node
            self.state = state
            self.read = read
            self.sees = sees
        }
    }

    /// A distribution link from `from` to `to`, as `from` reports it.
    public struct Link: Codable, Sendable, Equatable {
        public var from: String
        public var to: String
        /// Bytes waiting in `from`'s distribution buffer for `to` (nil when the link does not
        /// run over a port, or `from` did not tell).
        public var queueBytes: Int?
        /// The queue reached `from`'s busy limit: senders to `to` are suspended.
        public var busy: Bool
        /// How many times a process on `from` was suspended sending to `to` (the distribution
        /// port busy: `busy_dist_port` events) since Numbat's agent started there; nil when
        /// `from` cannot count them (another tool holds its system monitor).
        public var busyEvents: Int?

        public init(from: String, to: String, queueBytes: Int?, busy: Bool, busyEvents: Int? = nil) {
            self.from = from
            self.to = to
            self.queueBytes = queueBytes
            self.busy = busy
            self.busyEvents = busyEvents
        }

        enum CodingKeys: String, CodingKey {
            case from, to, busy
            case queueBytes = "queue_bytes"
            case busyEvents = "busy_events"
        }
    }

    public var family: UUID
    public var name: String
    public var checkedAt: Date
    /// More than one side: the family is partitioned.
    public var split: Bool
    /// The UP members that answered, grouped by who reaches whom (largest side first).
    public var sides: [[String]]
    public var rows: [Row]
    public var links: [Link]

    public init(family: UUID, name: String, checkedAt: Date, split: Bool, sides: [[String]], rows: [Row], links: [Link]) {
        self.family = family
        self.name = name
        self.checkedAt = checkedAt
        self.split = split
        self.sides = sides
        self.rows = rows
        self.links = links
    }

    enum CodingKeys: String, CodingKey {
        case family, name, split, sides, rows, links
        case checkedAt = "checked_at"
    }
}
