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
    /// The base URL of its REST API as the other servers reach it (`http://10.0.0.2:8080`):
    /// they forward there the requests only it can answer (a node's rpc, explorers, live
    /// metrics). Nil until its HTTP listener is up (`ClusterStore.recordAPIURL`).
    public var apiURL: String?

    public init(id: UUID, name: String, nodeName: String, startedAt: Date, heartbeatAt: Date, apiURL: String? = nil) {
        self.id = id
        self.name = name
        self.nodeName = nodeName
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.apiURL = apiURL
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case nodeName = "node_name"
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case apiURL = "api_url"
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

/// A stored node as a lease round sees it: its state (only UP and DOWN nodes are connected to)
/// and its lease, if any.
public struct LeasedNode: Sendable, Equatable {
    public var nodeID: UUID
    public var state: NodeState
    public var lease: NodeLease?

    public init(nodeID: UUID, state: NodeState, lease: NodeLease?) {
        self.nodeID = nodeID
        self.state = state
        self.lease = lease
    }
}

/// The servers of a cluster and their leases on managed nodes. Times are the database's clock,
/// so servers whose clocks disagree still agree on who holds what.
public protocol ClusterStore: Sendable {
    /// Records `server`'s heartbeat and renews every lease it holds to `ttl` from now, in one
    /// transaction (a nil `apiURL` keeps the one recorded). Returns the database's time and the
    /// nodes whose leases it still holds (a lease that expired and was taken by another server
    /// is not among them).
    func heartbeat(_ server: ClusterServer, ttl: TimeInterval) async throws -> (now: Date, held: Set<UUID>)
    func clusterServers() async throws -> [ClusterServer]
    func leases() async throws -> [NodeLease]
    /// Every stored node with its state and lease: what a lease round plans from, in one
    /// narrow read (at 10,000 nodes a round runs every few seconds).
    func leasedNodes() async throws -> [LeasedNode]
    /// Takes the leases of `nodes` that are free or expired (or already this server's); returns
    /// the nodes it now holds. Atomic per node: two servers never both get one.
    func acquireLeases(_ nodes: [UUID], for server: UUID, ttl: TimeInterval) async throws -> Set<UUID>
    /// Gives leases back (a hand-over, or nodes removed).
    func releaseLeases(_ nodes: [UUID], from server: UUID) async throws
    /// A server leaving cleanly: its leases and its row go, so the others take its nodes at once.
    func removeClusterServer(_ id: UUID) async throws
    /// Records where `server`'s REST API is reached (`server.apiURL`), making its row if it has
    /// none yet (as a heartbeat would).
    func recordAPIURL(of server: ClusterServer) async throws
    /// The server holding an unexpired lease on `node`, if any: the only one connected to it.
    func leaseHolder(of node: UUID) async throws -> ClusterServer?
}

/// One event in the cluster's shared event log: published on server `origin`'s bus, stored
/// for the other servers to present (`ClusterEventRelay`).
public struct ClusterEventRecord: Sendable, Equatable {
    /// Increasing in the order `origin` appended its events (not across origins).
    public var id: Int64
    public var origin: UUID
    /// The event, encoded by `ClusterEventRelay.encode`.
    public var body: Data

    public init(id: Int64, origin: UUID, body: Data) {
        self.id = id
        self.origin = origin
        self.body = body
    }
}

/// What a listening server is told about the shared event log.
public enum ClusterEventSignal: Sendable, Equatable {
    /// Listening has begun (first, and again after a reconnection): everything appended from
    /// now on is signalled; what was appended before must be read (caught up) by the listener.
    case listening
    /// `origin` appended events, the newest being `lastID`.
    case appended(origin: UUID, lastID: Int64)
}

/// The cluster's shared event log (issue 13): every server appends its own events, in order,
/// and is told when another server appended some, so that WebSocket clients of any server
/// receive the events of all. Kept briefly: it is a relay, not a history.
public protocol ClusterEventLog: Sendable {
    /// Appends `bodies`, in order, as `origin`'s events, and signals the listening servers
    /// once for them all. Returns the last one's id.
    @discardableResult
    func appendClusterEvents(_ bodies: [Data], origin: UUID) async throws -> Int64
    /// `origin`'s events after `id`, oldest first, at most `limit`.
    func clusterEvents(origin: UUID, after id: Int64, limit: Int) async throws -> [ClusterEventRecord]
    /// Every origin's newest event id: where a listener starts.
    func clusterEventHeads() async throws -> [UUID: Int64]
    /// Deletes the events older than `age` seconds (the database's clock); returns how many.
    @discardableResult
    func pruneClusterEvents(olderThan age: TimeInterval) async throws -> Int
    /// The signals, from `.listening` on, until the stream is dropped (which stops listening)
    /// or the connection is lost (the stream throws; listen again, then catch up).
    func clusterEventSignals() -> AsyncThrowingStream<ClusterEventSignal, any Error>
}
