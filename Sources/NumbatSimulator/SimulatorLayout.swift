import ErlangDist
import ErlangTerm

/// Where simulated node `index` lives and who its neighbours are, computed rather than stored
/// (10,000 nodes with 100 neighbours each would be a million names): `nodesPerHost` nodes share a
/// loopback address `127.77.X.Y` (one "host" each), and `clusterSize` consecutive nodes form one
/// cluster, connected to each other as a real cluster is (`erlang:nodes/0` lists the others).
public struct SimulatorLayout: Sendable, Equatable {
    public var prefix: String
    public var nodesPerHost: Int
    public var clusterSize: Int
    /// Total nodes across every simulator process of one run (clusters never span beyond it).
    public var total: Int

    public init(prefix: String = "sim", nodesPerHost: Int = 50, clusterSize: Int = 100, total: Int) {
        self.prefix = prefix
        self.nodesPerHost = max(1, nodesPerHost)
        self.clusterSize = max(1, clusterSize)
        self.total = total
    }

    /// The loopback address of host `index / nodesPerHost`: 127.77.0.1, 127.77.0.2, ... 127.77.0.250, 127.77.1.1, ...
    public func host(of index: Int) -> String {
        let host = index / nodesPerHost
        return "127.77.\(host / 250).\(host % 250 + 1)"
    }

    public func name(of index: Int) -> NodeName {
        NodeName(alive: "\(prefix)\(index)", host: host(of: index))
    }

    /// The other members of `index`'s cluster.
    public func peers(of index: Int) -> [Atom] {
        let first = index / clusterSize * clusterSize
        return (first..<min(first + clusterSize, total)).filter { $0 != index }.map { name(of: $0).atom }
    }

    /// The first node of each cluster among `indices`: adding these to Numbat with discovery on
    /// adds every node.
    public func clusterSeeds(_ indices: Range<Int>) -> [Int] {
        indices.filter { $0 % clusterSize == 0 || $0 == indices.lowerBound }
    }
}
