import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `GET /api/cluster`: the servers sharing the database, the nodes each holds, and the health
/// of their leases.
extension ClusterService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.get("cluster") { _, _ -> ClusterResponse in
            try await self.view()
        }
    }

    func view() async throws -> ClusterResponse {
        let servers = try await store.clusterServers()
        let leases = try await store.leases()
        let now = databaseNow
        let nodes = try await reader.nodes().map(\.id)
        let leased = Set(leases.map(\.nodeID))
        let views = servers.map { server in
            let own = leases.filter { $0.serverID == server.id }
            return ClusterResponse.Server(server: server, alive: now.timeIntervalSince(server.heartbeatAt) < settings.leaseSeconds,
                                          nodes: own.filter { $0.expiresAt > now }.map(\.nodeID).sorted(),
                                          expiredLeases: own.filter { $0.expiresAt <= now }.count)
        }
        return ClusterResponse(me: me.id, leaseSeconds: settings.leaseSeconds, servers: views, unleasedNodes: nodes.filter { !leased.contains($0) })
    }
}

extension ClusterResponse: ResponseEncodable {}
