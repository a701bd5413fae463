import Foundation

/// Which managed nodes one server of a cluster should hold (issue 13; seed 2.1: middle managers
/// that split the managed nodes between them). Pure: given the servers that are alive, the
/// leases as the database holds them and the database's clock, it says which leases to take and
/// which to hand over. Every server computes the same owner for a node (rendezvous hashing over
/// the live servers), so shares rebalance by themselves when a server joins or leaves, and only
/// the nodes that must move do.
public struct LeasePlanner: Sendable {
    /// This server.
    public var me: UUID
    /// How long a lease (and a heartbeat) lasts without renewal.
    public var ttl: TimeInterval

    public init(me: UUID, ttl: TimeInterval) {
        self.me = me
        self.ttl = ttl
    }

    /// A server of the cluster and its latest heartbeat.
    public struct Server: Sendable, Equatable {
        public var id: UUID
        public var heartbeatAt: Date
        public init(id: UUID, heartbeatAt: Date) {
            self.id = id
            self.heartbeatAt = heartbeatAt
        }
    }

    /// Who holds a node, until when.
    public struct Lease: Sendable, Equatable {
        public var server: UUID
        public var expiresAt: Date
        public init(server: UUID, expiresAt: Date) {
            self.server = server
            self.expiresAt = expiresAt
        }
    }

    public struct Plan: Sendable, Equatable {
        /// Nodes to take: unleased, or whose lease expired, and that hash to this server.
        public var acquire: [UUID] = []
        /// Nodes this server holds that now hash to another live server: let them go (close
        /// the connection first, then drop the lease) so the other takes them on its next round.
        public var release: [UUID] = []
        public init(acquire: [UUID] = [], release: [UUID] = []) {
            self.acquire = acquire
            self.release = release
        }
    }

    /// The servers whose heartbeat is fresh at `now`; this server always counts itself.
    public func liveServers(_ servers: [Server], now: Date) -> [UUID] {
        var live = Set(servers.filter { now.timeIntervalSince($0.heartbeatAt) < ttl }.map(\.id))
        live.insert(me)
        return live.sorted()
    }

    public func plan(nodes: [UUID], servers: [Server], leases: [UUID: Lease], now: Date) -> Plan {
        let live = liveServers(servers, now: now)
        var plan = Plan()
        for node in nodes {
            let owner = Self.owner(of: node, among: live)
            switch leases[node] {
            case let lease? where lease.server == me:
                if owner != me { plan.release.append(node) }
            case let lease? where lease.expiresAt > now:
                // Held by another server until it expires: never two holders.
                continue
            default:
                if owner == me { plan.acquire.append(node) }
            }
        }
        return plan
    }

    /// Nodes this server holds the lease of (renewed or not) that it should connect to but does
    /// not manage, and is not handing over: their takeover failed half-way (the database
    /// answered an error after the lease was taken). The planner leaves a server's own leases
    /// to it, so without taking these over again no server would ever manage them.
    public func strays(leases: [UUID: Lease], connectable: Set<UUID>, managed: Set<UUID>, releasing: [UUID]) -> [UUID] {
        let handedOver = Set(releasing)
        return connectable.filter { id in leases[id]?.server == me && !managed.contains(id) && !handedOver.contains(id) }
            .sorted()
    }

    /// The live server with the highest score for `node` (rendezvous hashing).
    public static func owner(of node: UUID, among servers: [UUID]) -> UUID? {
        servers.max { score($0, node) < score($1, node) }
    }

    /// A stable score of a (server, node) pair: the same in every process (Swift's `Hasher` is
    /// seeded per process, so FNV-1a over the two ids' bytes).
    static func score(_ server: UUID, _ node: UUID) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for id in [server, node] {
            withUnsafeBytes(of: id.uuid) { bytes in
                for byte in bytes {
                    hash ^= UInt64(byte)
                    hash &*= 0x0000_0100_0000_01b3
                }
            }
        }
        // FNV's low bits mix poorly for inputs differing only in their last bytes: finish with
        // a 64-bit avalanche (splitmix64's).
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}
