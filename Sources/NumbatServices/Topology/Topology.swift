import ErlangDist
import ErlangTerm
import Foundation
import Logging
import NumbatAPI
import NumbatCore

/// The topology service's master part (seed 4.2.1): adds running nodes (checking name, cookie and
/// reachability before anything is stored), discovers the nodes they are connected to, removes
/// nodes, and describes families and the connection graph. It talks to nodes only through the
/// node manager.
public final class Topology: Sendable {
    let store: any NodeReader & FamilyStore
    let nodes: NodeManager
    let bus: EventBus
    let logger: Logger
    /// Upper bound on one discovery, so a huge mesh cannot keep a request running for ever.
    let discoveryLimit: Int

    public init(store: any NodeReader & FamilyStore, nodes: NodeManager, bus: EventBus, logger: Logger, discoveryLimit: Int = 1000) {
        self.store = store
        self.nodes = nodes
        self.bus = bus
        self.logger = logger
        self.discoveryLimit = discoveryLimit
    }

    /// The answer to adding a node, NumbatAPI's (the CLI reads the same type).
    public typealias AddResult = AddNodeResponse
    /// A node that discovery found but could not add, and why.
    public typealias Skipped = AddNodeResponse.Skipped

    /// Adds the running node `name`: connects with `cookie`, reads its release and boot script,
    /// files it in the automatic family of that boot script and stores it UP (the node manager
    /// does all three). With `discover`, then adds every node it is connected to that accepts the
    /// same cookie, and theirs, recursively. A node without EPMD comes with its port, in `text`
    /// (`app@host:9100`) or as `port`; one on TLS distribution with `tls` (peers discovery finds
    /// through it are reached with the same cookie and TLS settings). Settings that do not parse
    /// are a 400, a certificate refused by either side a 422 saying which: nothing is stored.
    public func addNode(name text: String, port: Int? = nil, cookie: String, tls: TLSCredentials? = nil, discover: Bool) async throws -> AddResult {
        let address: NodeAddress
        do {
            address = try NodeAddress(text)
        } catch {
            throw NumbatError.badRequest("invalid_node_name", error.description)
        }
        if let port {
            guard (1...65535).contains(port) else { throw NumbatError.badRequest("invalid_port", "port must be from 1 to 65535, not \(port)") }
            if let given = address.port, given != port {
                throw NumbatError.badRequest("invalid_port", "the node is given two ports: \(given) in its name and \(port) in port")
            }
        }
        let name = address.name
        guard !cookie.isEmpty else { throw NumbatError.badRequest("invalid_cookie", "the cookie must not be empty") }
        if let tls { try NodeManager.validate(tls) }
        if try await store.node(named: name.description) != nil {
            throw NumbatError.conflict("node_exists", "\(name) is already managed")
        }
        let credentials = NodeCredentials(cookie: cookie, tls: tls)
        let node = try await add(name, port: port ?? address.port, credentials: credentials, discoveredFrom: nil)
        guard discover else { return AddResult(node: node, discovered: [], skipped: []) }
        let (found, skipped) = await discoverNeighbours(of: node, credentials: credentials)
        return AddResult(node: node, discovered: found, skipped: skipped)
    }

    /// Replaces a managed node's own TLS distribution settings (nil: removes them, so the node
    /// connects with its family's, or over plain TCP), from its next connection.
    public func setTLS(_ tls: TLSCredentials?, forNode id: UUID) async throws -> ManagedNode {
        let node = try await node(id: id)
        try await nodes.setTLS(tls, forNode: id)
        return node
    }

    /// Adds one node through the node manager, which probes it, stores it and publishes it.
    private func add(_ name: NodeName, port: Int?, credentials: NodeCredentials, discoveredFrom: UUID?) async throws -> ManagedNode {
        do {
            let node = try await nodes.add(name, credentials: credentials, port: port, discoveredFrom: discoveredFrom)
            logger.info("node added", metadata: ["node": "\(node.name)", "family": "\(node.familyID?.uuidString.lowercased() ?? "")"])
            return node
        } catch {
            switch error {
            case .exists: throw NumbatError.conflict("node_exists", "\(name) is already managed")
            case .unreachable(let reason): throw Self.apiError(reason, adding: name)
            case .store(let reason): throw reason
            }
        }
    }

    /// Breadth-first over `erlang:nodes()` of each added node.
    private func discoverNeighbours(of start: ManagedNode, credentials: NodeCredentials) async -> ([ManagedNode], [Skipped]) {
        var queue = [start]
        var seen: Set<String> = [start.name]
        var found: [ManagedNode] = []
        var skipped: [Skipped] = []
        while !queue.isEmpty, seen.count < discoveryLimit {
            let current = queue.removeFirst()
            let neighbours: [String]
            do {
                let reply = try await nodes.rpc(current, "erlang", "nodes")
                neighbours = (reply.listElements ?? []).compactMap { $0.atomValue?.name }
            } catch {
                skipped.append(Skipped(name: current.name, reason: "cannot list its connections: \(error)"))
                continue
            }
            let port = await peerPort(of: current)
            for neighbour in neighbours where seen.insert(neighbour).inserted {
                guard let name = try? NodeName(neighbour) else { continue }
                do {
                    if try await store.node(named: neighbour) != nil { continue }
                    let node = try await add(name, port: port, credentials: credentials, discoveredFrom: current.id)
                    found.append(node)
                    queue.append(node)
                } catch let error as NumbatError {
                    skipped.append(Skipped(name: neighbour, reason: error.message))
                } catch {
                    skipped.append(Skipped(name: neighbour, reason: "\(error)"))
                }
            }
        }
        return (found, skipped)
    }

    /// The port `node` reaches its own peers on, when it runs without EPMD: a node started with
    /// `-erl_epmd_port P` (what Elixir's `ERL_DIST_PORT` sets) dials every peer on P, so its
    /// peers listen there. Nil for a node found through EPMD, whose peers are asked of EPMD too
    /// (and skipped with EPMD's answer if it does not know them).
    private func peerPort(of node: ManagedNode) async -> Int? {
        guard node.port != nil,
              let reply = try? await nodes.rpc(node, "init", "get_argument", [.atom("erl_epmd_port")]),
              reply[element: 0] == .atom("ok"), let text = reply[element: 1]?.listElements?.first?.listElements?.first?.stringValue
        else { return nil }
        return Int(text).flatMap { (1...65535).contains($0) ? $0 : nil }
    }

    /// Stops managing a node: closes its connection and forgets it. The node keeps running.
    public func removeNode(id: UUID) async throws -> ManagedNode {
        guard try await store.node(id: id) != nil, let node = try await nodes.remove(id) else { throw Self.nodeNotFound(id) }
        logger.info("node removed", metadata: ["node": "\(node.name)"])
        return node
    }

    public func node(id: UUID) async throws -> ManagedNode {
        guard let node = try await store.node(id: id) else { throw Self.nodeNotFound(id) }
        return node
    }

    public func allNodes() async throws -> [ManagedNode] { try await store.nodes() }

    static func nodeNotFound(_ id: UUID) -> NumbatError {
        .notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
    }

    /// A distribution failure while adding `name`, in the API's terms.
    static func apiError(_ error: DistributionError, adding name: NodeName) -> NumbatError {
        switch error {
        case .authenticationFailed:
            NumbatError(.unprocessable, "cookie_rejected", "\(name) rejected the cookie: the cookies do not match")
        case .invalidNodeName(_, let why):
            .badRequest("invalid_node_name", why)
        case .timeout, .tickTimeout:
            NumbatError(.unprocessable, "node_unreachable", "\(name) did not answer in time: \(error)")
        case .tlsFailed(_, let reason):
            NumbatError(.unprocessable, "tls_refused", "cannot reach \(name) over TLS distribution: \(reason)")
        default:
            NumbatError(.unprocessable, "node_unreachable", "cannot reach \(name): \(error)")
        }
    }
}
