import Foundation

/// Storage of managed nodes and their sealed cookies (Topology and NodeManager).
public protocol NodeStore: Sendable {
    /// Stores a new node; throws `NumbatError` `node_exists` if a node of that name is managed.
    func insertNode(_ node: ManagedNode, cookie: String) async throws
    /// Updates everything but the cookie.
    func updateNode(_ node: ManagedNode) async throws
    func node(id: UUID) async throws -> ManagedNode?
    func node(named name: String) async throws -> ManagedNode?
    func nodes() async throws -> [ManagedNode]
    /// The node's cookie, unsealed, for connecting.
    func cookie(forNode id: UUID) async throws -> String?
    /// Whether a node was removed.
    func deleteNode(id: UUID) async throws -> Bool
}

/// Storage of node families.
public protocol FamilyStore: Sendable {
    func insertFamily(_ family: NodeFamily) async throws
    func family(id: UUID) async throws -> NodeFamily?
    func families() async throws -> [NodeFamily]
    /// The automatic family of `bootScript`, created in the same transaction if missing, so
    /// two nodes discovered at once never make two families.
    func automaticFamily(bootScript: String) async throws -> (family: NodeFamily, created: Bool)
    func deleteFamily(id: UUID) async throws -> Bool
}

/// Storage of API tokens (hashes only).
public protocol TokenStore: Sendable {
    func insertToken(_ token: APIToken, secretHash: Data) async throws
    func token(secretHash: Data) async throws -> APIToken?
    func tokens() async throws -> [APIToken]
    func deleteToken(id: UUID) async throws -> Bool
    func touchToken(id: UUID, at time: Date) async throws
}

/// Storage of notifications: appended in batches, read newest first by id, so reading the latest
/// N costs the same however many are stored.
public protocol NotificationStore: Sendable {
    /// Stores the notifications (ids are assigned) and returns them with their ids; then keeps
    /// only the newest `retain`.
    func appendNotifications(_ notifications: [NodeNotification], retain: Int) async throws -> [NodeNotification]
    func notifications(_ query: NotificationQuery) async throws -> [NodeNotification]
    func notificationCount() async throws -> Int
}
