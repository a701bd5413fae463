import Foundation
import NumbatCore
import PostgresNIO

/// The servers of a cluster and their leases on nodes. Every time is the database's `now()`, so
/// the servers' own clocks never decide who holds a node.
extension PostgresStore: ClusterStore {
    public func heartbeat(_ server: ClusterServer, ttl: TimeInterval) async throws -> (now: Date, held: Set<UUID>) {
        try await transaction(on: leaseClient) { connection in
            let now = try await Self.rows("""
                INSERT INTO cluster_server (id, name, node_name, started_at, heartbeat_at, api_url)
                VALUES (\(server.id), \(server.name), \(server.nodeName), \(server.startedAt), now(), \(server.apiURL))
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), name = EXCLUDED.name, node_name = EXCLUDED.node_name,
                    api_url = COALESCE(EXCLUDED.api_url, cluster_server.api_url)
                RETURNING heartbeat_at
                """, on: connection, logger: logger).first.map { try $0.value("heartbeat_at", as: Date.self) } ?? Date()
            // Renews only leases that have not expired: one that expired may already be another
            // server's, and the lease's holder must then learn it lost it.
            let held = try await Self.rows("""
                UPDATE node_lease SET expires_at = now() + make_interval(secs => \(ttl))
                WHERE server_id = \(server.id) AND expires_at > now()
                RETURNING node_id
                """, on: connection, logger: logger).map { try $0.value("node_id", as: UUID.self) }
            return (now, Set(held))
        }
    }

    public func clusterServers() async throws -> [ClusterServer] {
        try await rows("SELECT * FROM cluster_server ORDER BY started_at", on: leaseClient).map(Self.clusterServer)
    }

    static func clusterServer(_ row: PostgresRandomAccessRow) throws -> ClusterServer {
        ClusterServer(id: try row.value("id"), name: try row.value("name"), nodeName: try row.value("node_name"),
                      startedAt: try row.value("started_at"), heartbeatAt: try row.value("heartbeat_at"),
                      apiURL: try row.value("api_url", as: String?.self))
    }

    public func leases() async throws -> [NodeLease] {
        try await rows("SELECT node_id, server_id, expires_at FROM node_lease").map { row in
            NodeLease(nodeID: try row.value("node_id"), serverID: try row.value("server_id"), expiresAt: try row.value("expires_at"))
        }
    }

    public func leasedNodes() async throws -> [LeasedNode] {
        try await rows("SELECT n.id, n.state, l.server_id, l.expires_at FROM node n LEFT JOIN node_lease l ON l.node_id = n.id").map { row in
            let id: UUID = try row.value("id")
            let server = try row.value("server_id", as: UUID?.self)
            let expiry = try row.value("expires_at", as: Date?.self)
            return LeasedNode(nodeID: id, state: NodeState(rawValue: try row.value("state")) ?? .error,
                              lease: server.flatMap { server in expiry.map { NodeLease(nodeID: id, serverID: server, expiresAt: $0) } })
        }
    }

    public func acquireLeases(_ nodes: [UUID], for server: UUID, ttl: TimeInterval) async throws -> Set<UUID> {
        guard !nodes.isEmpty else { return [] }
        // One statement: a free lease is inserted, an expired (or own) one taken over; a lease
        // another server holds unexpired is left alone, and the row lock serialises two takers.
        let rows = try await rows("""
            INSERT INTO node_lease (node_id, server_id, expires_at)
            SELECT id, \(server), now() + make_interval(secs => \(ttl)) FROM node WHERE id = ANY(\(nodes))
            ON CONFLICT (node_id) DO UPDATE SET server_id = EXCLUDED.server_id, expires_at = EXCLUDED.expires_at
            WHERE node_lease.expires_at <= now() OR node_lease.server_id = EXCLUDED.server_id
            RETURNING node_id
            """, on: leaseClient)
        return Set(try rows.map { try $0.value("node_id", as: UUID.self) })
    }

    public func releaseLeases(_ nodes: [UUID], from server: UUID) async throws {
        guard !nodes.isEmpty else { return }
        try await leaseClient.query("DELETE FROM node_lease WHERE server_id = \(server) AND node_id = ANY(\(nodes))", logger: logger)
    }

    public func recordAPIURL(of server: ClusterServer) async throws {
        try await client.query("""
            INSERT INTO cluster_server (id, name, node_name, started_at, heartbeat_at, api_url)
            VALUES (\(server.id), \(server.name), \(server.nodeName), \(server.startedAt), now(), \(server.apiURL))
            ON CONFLICT (id) DO UPDATE SET api_url = EXCLUDED.api_url
            """, logger: logger)
    }

    public func leaseHolder(of node: UUID) async throws -> ClusterServer? {
        try await rows("""
            SELECT s.* FROM node_lease l JOIN cluster_server s ON s.id = l.server_id
            WHERE l.node_id = \(node) AND l.expires_at > now()
            """).first.map(Self.clusterServer)
    }

    public func removeClusterServer(_ id: UUID) async throws {
        try await transaction(on: leaseClient) { connection in
            try await connection.query("DELETE FROM node_lease WHERE server_id = \(id)", logger: logger)
            try await connection.query("DELETE FROM cluster_server WHERE id = \(id)", logger: logger)
        }
    }
}
