/// Where a managed node is in its life (seed 4.1.4): deployment moves it UNINIT -> STOPPED ->
/// DOWN -> UP; the node manager moves it between DOWN and UP; any failure leaves it in ERROR.
public enum NodeState: String, Codable, Sendable, CaseIterable {
    /// Deployment has begun; nothing runs yet.
    case uninit = "UNINIT"
    /// The release is unpacked on its host but not started.
    case stopped = "STOPPED"
    /// Managed but not reachable: the node manager keeps trying to reconnect.
    case down = "DOWN"
    /// Connected.
    case up = "UP"
    /// Deployment or management failed; the reason is stored with the node.
    case error = "ERROR"
}
