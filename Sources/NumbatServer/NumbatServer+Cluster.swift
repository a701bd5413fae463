import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore
import NumbatServices

extension NumbatServer {
    /// `GET /api/cluster` on the embedded store: one server that manages every node. (On a
    /// shared store the cluster service answers it.)
    func addSingleServerClusterRoute(to api: RouterGroup<NumbatRequestContext>) {
        let startedAt = Date()
        let id = UUID()
        api.get("cluster") { _, _ -> ClusterResponse in
            let me = ClusterServer(id: id, name: "\(ProcessInfo.processInfo.hostName):\(self.configuration.port)",
                                   nodeName: self.nodes.local.name.description, startedAt: startedAt, heartbeatAt: Date())
            let nodes = try await self.store.nodes().map(\.id)
            return ClusterResponse(me: nil, leaseSeconds: nil, servers: [.init(server: me, alive: true, nodes: nodes, expiredLeases: 0)], unleasedNodes: [])
        }
    }
}
