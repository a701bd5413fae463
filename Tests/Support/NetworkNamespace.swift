import Foundation

/// A network namespace joined to the test's own by a veth pair, for a process whose network the
/// test must be able to cut or shape (a `numbat serve` cut from PostgreSQL, one whose connections
/// to unknown hosts must hang). The host side of the pair gets `hostAddress` plus any
/// `extraHostAddresses` (so traffic to one of them can be cut while another stays up); the
/// namespace side gets `address`, and the namespace has its own loopback. `stop()` kills every
/// process left in the namespace and removes it (the veth pair goes with it).
public final class NetworkNamespace: Sendable {
    public let name: String
    /// The namespace's own address.
    public let address: String
    /// The host side's addresses: how the namespace reaches the test's processes.
    public let hostAddresses: [String]
    public var hostAddress: String { hostAddresses[0] }
    private let hostDevice: String

    private init(name: String, address: String, hostAddresses: [String], hostDevice: String) {
        self.name = name
        self.address = address
        self.hostAddresses = hostAddresses
        self.hostDevice = hostDevice
    }

    /// Makes the namespace with `extraHostAddresses` more addresses on the host side. With
    /// `sinkDefaultRoute`, every address outside the pair's subnet is routed into a device that
    /// drops what it is given: a connection to an unknown host from inside hangs until its
    /// own timeout, as toward a machine that never answers, whatever the test machine's network.
    public static func start(extraHostAddresses: Int = 0, sinkDefaultRoute: Bool = false) async throws -> NetworkNamespace {
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        let subnet = "10.\(Int.random(in: 100...250)).\(Int.random(in: 0...255))"
        let hostAddresses = (0...extraHostAddresses).map { "\(subnet).\($0 == 0 ? 1 : 10 + $0)" }
        let namespace = NetworkNamespace(name: "nn\(tag)", address: "\(subnet).2", hostAddresses: hostAddresses, hostDevice: "nn\(tag)h")
        do {
            try await TestHosts.ip("netns", "add", namespace.name)
            try await TestHosts.ip("link", "add", namespace.hostDevice, "type", "veth", "peer", "name", "eth0", "netns", namespace.name)
            for address in hostAddresses {
                try await TestHosts.ip("addr", "add", "\(address)/24", "dev", namespace.hostDevice)
            }
            try await TestHosts.ip("link", "set", namespace.hostDevice, "up")
            try await TestHosts.ip("-n", namespace.name, "addr", "add", "\(namespace.address)/24", "dev", "eth0")
            try await TestHosts.ip("-n", namespace.name, "link", "set", "eth0", "up")
            try await TestHosts.ip("-n", namespace.name, "link", "set", "lo", "up")
            if sinkDefaultRoute {
                // A veth whose peer is down drops all it is given (no dummy driver everywhere);
                // without ARP, nothing waits for a neighbour that would never answer either.
                try await TestHosts.ip("-n", namespace.name, "link", "add", "sink", "type", "veth", "peer", "name", "sinkpeer")
                try await TestHosts.ip("-n", namespace.name, "link", "set", "sink", "arp", "off")
                try await TestHosts.ip("-n", namespace.name, "link", "set", "sink", "up")
                try await TestHosts.ip("-n", namespace.name, "route", "add", "default", "dev", "sink")
            }
            return namespace
        } catch {
            await namespace.stop()
            throw error
        }
    }

    /// Runs `body` with a fresh namespace, removed afterwards however it ends.
    public static func with<T>(extraHostAddresses: Int = 0, sinkDefaultRoute: Bool = false, _ body: (NetworkNamespace) async throws -> T) async throws -> T {
        let namespace = try await start(extraHostAddresses: extraHostAddresses, sinkDefaultRoute: sinkDefaultRoute)
        do {
            let value = try await body(namespace)
            await namespace.stop()
            return value
        } catch {
            await namespace.stop()
            throw error
        }
    }

    /// The arguments that run `executable` inside the namespace (`ip netns exec` execs it, so the
    /// process started is the program itself, with its own pid).
    public func command(_ executable: String, _ arguments: [String]) -> (executable: String, arguments: [String]) {
        ("/usr/sbin/ip", ["netns", "exec", name, executable] + arguments)
    }

    /// Runs a shell command inside the namespace.
    public func run(_ command: String) async throws -> ChildProcess {
        try await ChildProcess.run("/usr/sbin/ip", ["netns", "exec", name, "/bin/sh", "-c", command])
    }

    /// Cuts the namespace off from `address` (one of `hostAddresses`): a route that drops what is
    /// sent there. Nothing is refused or reset: connections already open see their packets
    /// vanish, as behind a pulled cable, and new ones fail.
    public func cut(from address: String) async throws {
        try await TestHosts.ip("-n", name, "route", "add", "blackhole", "\(address)/32")
    }

    /// Undoes `cut(from:)`.
    public func heal(to address: String) async throws {
        try await TestHosts.ip("-n", name, "route", "del", "blackhole", "\(address)/32")
    }

    /// The processes still running inside the namespace.
    public func processes() async -> [Int32] {
        ((try? await ChildProcess.run("/usr/sbin/ip", ["netns", "pids", name]))?.standardOutput ?? "")
            .split(separator: "\n").compactMap { Int32($0) }
    }

    public func stop() async {
        for pid in await processes() { kill(pid, SIGKILL) }
        try? await TestHosts.ip("netns", "del", name)
        // The pair goes with the namespace; the host side is removed should it linger.
        try? await TestHosts.ip("link", "del", hostDevice)
    }
}
