import Foundation
import ErlangDist
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// What the core hands every service: the store, the event bus, the node manager (the
/// node-connection API) and a logger. Services never reach into each other.
public struct ServiceContext: Sendable {
    public var store: any NodeReader & FamilyStore & TokenStore
    public var bus: EventBus
    public var nodes: NodeManager
    public var logger: Logger
    /// What services must undo before a family goes, whichever route deletes it.
    public var familyDeletion: FamilyDeletionHooks

    public init(store: any NodeReader & FamilyStore & TokenStore, bus: EventBus, nodes: NodeManager, logger: Logger,
                familyDeletion: FamilyDeletionHooks = FamilyDeletionHooks()) {
        self.store = store
        self.bus = bus
        self.nodes = nodes
        self.logger = logger
        self.familyDeletion = familyDeletion
    }
}

/// Work other services do before a family is deleted: orchestration removes the family's key
/// pairs and security groups from its providers, so `DELETE /api/topo/node_families/{id}` leaves
/// nothing behind on a cloud either. A hook that throws stops the deletion.
public final class FamilyDeletionHooks: Sendable {
    public typealias Hook = @Sendable (UUID) async throws -> Void
    private let hooks = NIOLockedValueBox<[Hook]>([])

    public init() {}

    public func register(_ hook: @escaping Hook) {
        hooks.withLockedValue { $0.append(hook) }
    }

    public func run(before id: UUID) async throws {
        for hook in hooks.withLockedValue({ $0 }) { try await hook(id) }
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
