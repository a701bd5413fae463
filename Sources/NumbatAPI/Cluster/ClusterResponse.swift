import Foundation
import NumbatCore

/// `GET /api/cluster`: the servers sharing the store, the nodes each holds a lease on, and the
/// health of those leases.
public struct ClusterResponse: Codable, Sendable, Equatable {
    /// One server and what it holds.
    public struct Server: Codable, Sendable, Equatable {
        public var server: ClusterServer
        /// Whether its heartbeat is fresh.
        public var alive: Bool
        /// The nodes it holds unexpired leases on.
        public var nodes: [UUID]
        /// Its leases that expired without renewal: a dead server's, until another takes them.
        public var expiredLeases: Int

        public init(server: ClusterServer, alive: Bool, nodes: [UUID], expiredLeases: Int) {
            self.server = server
            self.alive = alive
            self.nodes = nodes
            self.expiredLeases = expiredLeases
        }

        enum CodingKeys: String, CodingKey {
            case server, alive, nodes
            case expiredLeases = "expired_leases"
        }
    }

    /// The server that answered; nil on the embedded store, where one server manages every node.
    public var me: UUID?
    public var leaseSeconds: Double?
    public var servers: [Server]
    /// Managed nodes no server holds a lease on (new ones, or between a hand-over's two halves).
    public var unleasedNodes: [UUID]

    public init(me: UUID?, leaseSeconds: Double?, servers: [Server], unleasedNodes: [UUID]) {
        self.me = me
        self.leaseSeconds = leaseSeconds
        self.servers = servers
        self.unleasedNodes = unleasedNodes
    }

    enum CodingKeys: String, CodingKey {
        case me, servers
        case leaseSeconds = "lease_seconds"
        case unleasedNodes = "unleased_nodes"
    }
}
