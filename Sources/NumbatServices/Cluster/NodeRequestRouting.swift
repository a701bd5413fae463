import Foundation
import NumbatCore

/// Which server answers a request about one node, in a cluster of servers (issue 13). Pure: the
/// server's forwarding middleware (`ClusterForwardingMiddleware`) asks it.
///
/// Most routes read the shared database, so any server answers them. A few need what only the
/// node's holder (the server with its lease) has: the connection to the node (rpc, the process
/// and ETS explorers, live metrics), what it keeps in memory for the nodes it manages (the
/// latest metrics, a node's collection interval, the level its log agent was told), or its
/// node manager acting (removing a node closes the connection). Those are forwarded to the
/// holder's API with the caller's credentials, and its answer is returned unchanged. A forwarded
/// request carries `forwardedHeader` and is never forwarded again, so two servers that disagree
/// for a moment about who holds a node cannot bounce a request between them: the second one
/// answers it as it can.
public enum NodeRequestRouting {
    /// Set on a forwarded request: the id of the server that forwarded it.
    public static let forwardedHeader = "Numbat-Forwarded-By"
    /// On the answer: the id of the server that ran the request.
    public static let answeredHeader = "Numbat-Answered-By"

    /// A request only the holder of a node can answer.
    public struct Route: Sendable, Equatable {
        public var node: UUID
        /// A WebSocket (live metrics): relayed both ways rather than forwarded once.
        public var isWebSocket: Bool

        public init(node: UUID, isWebSocket: Bool = false) {
            self.node = node
            self.isWebSocket = isWebSocket
        }
    }

    /// The node-bound request `method path?query` is, or nil when any server answers it.
    public static func route(method: String, path: String, query: (String) -> String?) -> Route? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // "", "api", ...
        guard parts.count >= 3, parts[0].isEmpty, parts[1] == "api" else { return nil }
        let rest = Array(parts.dropFirst(2))
        let method = method.uppercased()
        func node(_ text: String) -> UUID? { UUID(uuidString: text) }
        switch (method, rest.count) {
        case ("POST", 3) where rest[0] == "nodes" && rest[2] == "rpc",
             ("GET", 3) where rest[0] == "nodes" && (rest[2] == "processes" || rest[2] == "ets"),
             ("GET", 4) where rest[0] == "nodes" && rest[2] == "processes" && !rest[3].isEmpty:
            return node(rest[1]).map { Route(node: $0) }
        case ("GET", 3) where rest[0] == "metrics" && rest[1] == "nodes":
            return node(rest[2]).map { Route(node: $0) }
        case ("PUT", 4) where rest[0] == "metrics" && rest[1] == "nodes" && rest[3] == "interval":
            return node(rest[2]).map { Route(node: $0) }
        case ("GET", 4), ("PUT", 4):
            guard rest[0] == "notifications", rest[1] == "nodes", rest[3] == "level" else { return nil }
            return node(rest[2]).map { Route(node: $0) }
        case ("DELETE", 3) where rest[0] == "topo" && rest[1] == "nodes":
            return node(rest[2]).map { Route(node: $0) }
        // A deployed node's actions run as jobs of the server holding the node (NodeJobs).
        case ("POST", 4) where rest[0] == "orch" && rest[1] == "nodes" && ["start", "stop", "restart"].contains(rest[3]),
             ("DELETE", 3) where rest[0] == "orch" && rest[1] == "nodes":
            return node(rest[2]).map { Route(node: $0) }
        case ("GET", 2) where rest[0] == "metrics" && rest[1] == "live":
            return query("node").flatMap(node).map { Route(node: $0, isWebSocket: true) }
        default:
            return nil
        }
    }

    public enum Decision: Sendable, Equatable {
        /// This server answers.
        case local
        /// Forward to this server, at its `apiURL`.
        case forward(ClusterServer)
        /// The holder is another server whose API address is not known (yet): 503.
        case unavailable(ClusterServer)
    }

    /// Who answers a request about a node held by `holder` (nil: no unexpired lease; nobody is
    /// connected, and this server answers as it can), arriving at server `me`.
    public static func decide(me: UUID, holder: ClusterServer?, alreadyForwarded: Bool) -> Decision {
        guard !alreadyForwarded, let holder, holder.id != me else { return .local }
        guard let url = holder.apiURL, !url.isEmpty else { return .unavailable(holder) }
        return .forward(holder)
    }

    /// The URL to forward `path?query` to on `server`.
    public static func url(on server: ClusterServer, path: String, query: String?, webSocket: Bool = false) -> URL? {
        guard var base = server.apiURL else { return nil }
        while base.hasSuffix("/") { base.removeLast() }
        if webSocket {
            if base.hasPrefix("https://") { base = "wss://" + base.dropFirst("https://".count) }
            else if base.hasPrefix("http://") { base = "ws://" + base.dropFirst("http://".count) }
        }
        let tail = query.map { $0.isEmpty ? "" : "?" + $0 } ?? ""
        return URL(string: base + path + tail)
    }

    /// The 503 when the holder cannot be reached: it names the server, so an operator knows
    /// which one to look at.
    public static func unreachable(_ holder: ClusterServer, node: UUID, reason: String) -> NumbatError {
        NumbatError(.unavailable, "holder_unreachable",
                    "node \(node.uuidString.lowercased()) is managed by server \(holder.name) (\(holder.nodeName), id \(holder.id.uuidString.lowercased())"
                        + "\(holder.apiURL.map { ", " + $0 } ?? "")), which cannot be reached: \(reason)")
    }
}
