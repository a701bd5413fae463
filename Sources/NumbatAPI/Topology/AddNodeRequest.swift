import Foundation
import NumbatCore

/// `POST /api/actions/add-node`: manage a running node, and with `discover` the nodes it is
/// connected to. A node that runs without EPMD is given with its distribution port, in `node`
/// (`app@host:9100`, `app@[::1]:9100`) or in `port`.
public struct AddNodeRequest: Codable, Sendable, Equatable {
    public var node: String
    public var cookie: String
    public var discover: Bool?
    public var port: Int?
    /// For a node on TLS distribution: the certificates to reach it with (and the peers
    /// discovery finds through it). Nil: plain TCP.
    public var tls: TLSSettingsBody?

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["node", "cookie", "discover", "port", "tls"]

    public init(node: String, cookie: String, discover: Bool? = nil, port: Int? = nil, tls: TLSSettingsBody? = nil) {
        self.node = node
        self.cookie = cookie
        self.discover = discover
        self.port = port
        self.tls = tls
    }
}

/// The answer to adding a node: it, the nodes discovery added, and those it could not.
public struct AddNodeResponse: Codable, Sendable, Equatable {
    /// A node discovery found but could not add (another cookie, unreachable).
    public struct Skipped: Codable, Sendable, Equatable {
        public var name: String
        public var reason: String

        public init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }
    }

    /// The node asked for.
    public var node: ManagedNode
    /// Nodes added by discovery.
    public var discovered: [ManagedNode]
    public var skipped: [Skipped]

    public init(node: ManagedNode, discovered: [ManagedNode], skipped: [Skipped]) {
        self.node = node
        self.discovered = discovered
        self.skipped = skipped
    }
}

/// `GET /api/topo/nodes`.
public struct NodeListResponse: Codable, Sendable, Equatable {
    public var nodes: [ManagedNode]

    public init(nodes: [ManagedNode]) { self.nodes = nodes }
}
