import ErlangDist
import Hummingbird
import Logging
import NumbatCore

/// What the core hands every service: the store, the event bus, the node manager (the
/// node-connection API) and a logger. Services never reach into each other.
public struct ServiceContext: Sendable {
    public var store: any NodeStore & FamilyStore & TokenStore
    public var bus: EventBus
    public var nodes: NodeManager
    public var logger: Logger

    public init(store: any NodeStore & FamilyStore & TokenStore, bus: EventBus, nodes: NodeManager, logger: Logger) {
        self.store = store
        self.bus = bus
        self.nodes = nodes
        self.logger = logger
    }
}

/// A Numbat service (seed 2.2): one column through the levels, with its REST routes, its master
/// part and its per-node part. The core starts services in order, then serves their routes,
/// and stops them in reverse order.
public protocol NumbatService: Sendable {
    /// Short name for logs: `topology`, `metrics`...
    var name: String { get }
    /// Adds the service's routes under `/api`.
    func addRoutes(to api: RouterGroup<NumbatRequestContext>)
    /// Starts background work (connections, collectors).
    func start() async throws
    /// Stops background work; the node connections stay the node manager's business.
    func stop() async
}

extension NumbatService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {}
    public func start() async throws {}
    public func stop() async {}
}
