import ErlangDist
import ErlangTerm
import NumbatTestSupport

/// A hidden node of the test's own, to look at the test nodes independently of the server:
/// whom they are connected to, and to mesh them into a cluster.
struct Observer {
    let local: LocalNode

    init(cookie: String) throws {
        local = try LocalNode(.init(name: "observer\(UInt32.random(in: 0...UInt32.max))", cookie: cookie))
    }

    /// The hidden nodes `node` is connected to, less this observer.
    func hiddenPeers(of node: TestNode) async throws -> [String] {
        let reply = try await local.rpc(node.name, "erlang", "nodes", [.atom("hidden")])
        let me = local.localName(for: node.name).description
        return (reply.listElements ?? []).compactMap { $0.atomValue?.name }.filter { $0 != me }
    }

    /// Connects `node` to each of `peers` (`net_adm:ping`).
    func connect(_ node: TestNode, to peers: [TestNode]) async throws {
        for peer in peers {
            let pong = try await local.rpc(node.name, "net_adm", "ping", [.atom(Atom(peer.name.description))])
            precondition(pong == .atom("pong"), "\(node.name) cannot reach \(peer.name)")
        }
    }

    func shutdown() async { await local.shutdown() }
}
