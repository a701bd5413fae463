import Foundation

/// One `numbat serve` process of a cluster of servers sharing one database (issue 13; the seed's
/// master and middle managers).
public struct ClusterServer: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    /// What to call it: its host name and HTTP port.
    public var name: String
    /// Its hidden node's name, as the managed nodes see it connect.
    public var nodeName: String
    public var startedAt: Date
    public var heartbeatAt: Date

    public init(id: UUID, name: String, nodeName: String, startedAt: Date, heartbeatAt: Date) {
        self.id = id
        self.name = name
        self.nodeName = nodeName
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case nodeName = "node_name"
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
    }
}

/// Who manages a node, until when.
public struct NodeLease: Codable, Sendable, Equatable {
    public var nodeID: UUID
    public var serverID: UUID
    public var expiresAt: Date

    public init(nodeID: UUID, serverID: UUID, expiresAt: Date) {
        self.nodeID = nodeID
        self.serverID = serverID
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case nodeID = "node_id"
        case serverID = "server_id"
        case expiresAt = "expires_at"
    }
}

/// The servers of a cluster and their leases on managed nodes. Times are the database's clock,
/// so servers whose clocks disagree still agree on who holds what.
public protocol ClusterStore: Sendable {
    /// Records `server`'s heartbeat and renews every lease it holds to `ttl` from now, in one
    /// transaction. Returns the database's time and the nodes whose leases it still holds (a
    /// lease that expired and was taken by another server is not among them).
    func heartbeat(_ server: ClusterServer, ttl: TimeInterval) async throws -> (now: Date, held: Set<UUID>)
    func clusterServers() async throws -> [ClusterServer]
    func leases() async throws -> [NodeLease]
    /// Takes the leases of `nodes` that are free or expired (or already this server's); returns
    /// the nodes it now holds. Atomic per node: two servers never both get one.
    func acquireLeases(_ nodes: [UUID], for server: UUID, ttl: TimeInterval) async throws -> Set<UUID>
    /// Gives leases back (a hand-over, or nodes removed).
    func releaseLeases(_ nodes: [UUID], from server: UUID) async throws
    /// A server leaving cleanly: its leases and its row go, so the others take its nodes at once.
    func removeClusterServer(_ id: UUID) async throws
}
