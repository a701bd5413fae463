import Foundation
import NumbatCore

/// Real SSH hosts on one machine for the orchestration tests: each host is a network namespace
/// with its own address on a bridge made for the pool, running its own sshd that accepts the
/// keys given. Namespaces reach each other and the test (the bridge's address) but nothing else.
/// `stop()` kills every process left in the namespaces (sshd, EPMD, deployed nodes) and removes
/// the namespaces, the bridge and the pool's directory.
public final class TestHosts: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Host: Sendable {
        /// The namespace's name.
        public let namespace: String
        public let address: String
        /// Where its sshd listens: `address`, or for a host behind the bastion its address on
        /// the private link from `hosts[0]`, which nothing else reaches.
        public let sshAddress: String
    }

    public let hosts: [Host]
    /// The bridge's address: how the hosts see the test process (and Numbat).
    public let gateway: String
    /// Keys, sshd configurations and logs; the hosts' deployment roots are made under it too.
    public let directory: URL
    private let bridge: String
    private let sshdPIDs: [Int32]

    /// Network namespaces need root and iproute2; sshd comes from openssh-server.
    public static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    private init(hosts: [Host], gateway: String, directory: URL, bridge: String, sshdPIDs: [Int32]) {
        self.hosts = hosts
        self.gateway = gateway
        self.directory = directory
        self.bridge = bridge
        self.sshdPIDs = sshdPIDs
    }

    /// Starts `count` hosts whose sshd lets root in with any of `authorizedKeys` (OpenSSH lines).
    /// With `reachLoopback`, the hosts reach the test's own 127.0.0.2-127.0.0.255 through the
    /// bridge (where `LoopbackHosts` run), keeping only 127.0.0.1 for themselves. The last
    /// `behindBastion` hosts are reached by SSH only through `hosts[0]`, the bastion: each has
    /// a private link to it (`192.168.<index>.2`, the bastion being `.1`), where alone its sshd
    /// listens; its bridge address still carries everything else (EPMD, Erlang distribution).
    public static func start(count: Int, authorizedKeys: [String], reachLoopback: Bool = false, behindBastion: Int = 0) async throws -> TestHosts {
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-hosts-\(tag)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let subnet = "10.\(Int.random(in: 100...250)).\(Int.random(in: 0...255))"
        let bridge = "nb\(tag)"
        var made: [Host] = []
        var pids: [Int32] = []
        do {
            try await ip("link", "add", bridge, "type", "bridge")
            try await ip("addr", "add", "\(subnet).1/24", "dev", bridge)
            try await ip("link", "set", bridge, "up")
            try await sh("ssh-keygen -q -t ed25519 -N '' -f \(directory.path)/host_key")
            try authorizedKeys.joined(separator: "\n").appending("\n").write(to: directory.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)
            for index in 0..<count {
                let hidden = index > 0 && index >= count - behindBastion
                let host = Host(namespace: "nb\(tag)h\(index)", address: "\(subnet).\(index + 2)",
                                sshAddress: hidden ? "192.168.\(index).2" : "\(subnet).\(index + 2)")
                try await ip("netns", "add", host.namespace)
                made.append(host)
                if hidden {
                    let bastion = made[0].namespace
                    try await ip("-n", bastion, "link", "add", "priv\(index)", "type", "veth", "peer", "name", "priv", "netns", host.namespace)
                    try await ip("-n", bastion, "addr", "add", "192.168.\(index).1/24", "dev", "priv\(index)")
                    try await ip("-n", bastion, "link", "set", "priv\(index)", "up")
                    try await ip("-n", host.namespace, "addr", "add", "\(host.sshAddress)/24", "dev", "priv")
                    try await ip("-n", host.namespace, "link", "set", "priv", "up")
                }
                let veth = "nb\(tag)v\(index)"
                try await ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.namespace)
                try await ip("link", "set", veth, "master", bridge, "up")
                try await ip("-n", host.namespace, "addr", "add", "\(host.address)/24", "dev", "eth0")
                try await ip("-n", host.namespace, "link", "set", "eth0", "up")
                try await ip("-n", host.namespace, "link", "set", "lo", "up")
                if reachLoopback {
                    // route_localnet lets loopback addresses cross the veth, in the namespace and
                    // on the pool's own bridge only; the machine's other interfaces keep the default.
                    try await ip("-n", host.namespace, "addr", "del", "127.0.0.1/8", "dev", "lo")
                    try await ip("-n", host.namespace, "addr", "add", "127.0.0.1/32", "dev", "lo")
                    try await ip("-n", host.namespace, "route", "add", "127.0.0.0/8", "via", "\(subnet).1", "dev", "eth0")
                    try await ip("netns", "exec", host.namespace, "/bin/sh", "-c",
                                 "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet")
                    try "1".write(toFile: "/proc/sys/net/ipv4/conf/\(bridge)/route_localnet", atomically: false, encoding: .utf8)
                }
                let configuration = directory.appendingPathComponent("sshd_\(index).conf")
                try """
                    ListenAddress \(host.sshAddress)
                    HostKey \(directory.path)/host_key
                    AuthorizedKeysFile \(directory.path)/authorized_keys
                    PasswordAuthentication no
                    KbdInteractiveAuthentication no
                    PermitRootLogin prohibit-password
                    StrictModes no
                    UsePAM no
                    PidFile none
                    MaxStartups 100:30:200
                    MaxSessions 100

                    """.write(to: configuration, atomically: true, encoding: .utf8)
                // A fresh host has a clean home: root's dotfiles on this machine (a pyenv init that
                // waits a minute on a stale rehash lock, for one) must not run in every command.
                // sshd gets a mount namespace of its own with an empty directory over /root.
                let home = directory.appendingPathComponent("home_\(index)")
                try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
                let sshd = Subprocess()
                sshd.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
                sshd.arguments = ["netns", "exec", host.namespace, "/usr/bin/unshare", "--mount", "--propagation", "private",
                                  "/bin/sh", "-c", "mount --bind \"$0\" /root && exec /usr/sbin/sshd -D -f \"$1\" -E \"$2\"",
                                  home.path, configuration.path, directory.appendingPathComponent("sshd_\(index).log").path]
                sshd.standardInput = FileHandle.nullDevice
                try sshd.run()
                pids.append(sshd.processIdentifier)
            }
            let hosts = TestHosts(hosts: made, gateway: "\(subnet).1", directory: directory, bridge: bridge, sshdPIDs: pids)
            for host in made { try await hosts.waitForSSH(host) }
            return hosts
        } catch {
            await TestHosts(hosts: made, gateway: "\(subnet).1", directory: directory, bridge: bridge, sshdPIDs: pids).stop()
            throw error
        }
    }

    /// Runs `body` with `count` hosts, stopping them however it ends; one pool (or browser) at a
    /// time in the test process (`HeavyPeerGate`).
    public static func with<T>(count: Int, authorizedKeys: [String], reachLoopback: Bool = false, behindBastion: Int = 0,
                               _ body: (TestHosts) async throws -> T) async throws -> T {
        try await HeavyPeerGate.shared.run {
            let hosts = try await start(count: count, authorizedKeys: authorizedKeys, reachLoopback: reachLoopback, behindBastion: behindBastion)
            do {
                let value = try await body(hosts)
                await hosts.stop()
                return value
            } catch {
                await hosts.stop()
                throw error
            }
        }
    }

    /// Runs a shell command inside a host's namespace (as root, like a login would).
    public func run(in host: Host, _ command: String) async throws -> ChildProcess {
        try await ChildProcess.run("/usr/sbin/ip", ["netns", "exec", host.namespace, "/bin/sh", "-c", command])
    }

    /// The processes still running inside a host's namespace, sshd included.
    public func processes(in host: Host) async throws -> [Int32] {
        try await ChildProcess.run("/usr/sbin/ip", ["netns", "pids", host.namespace]).standardOutput
            .split(separator: "\n").compactMap { Int32($0) }
    }

    public func stop() async {
        for host in hosts {
            let pids = (try? await processes(in: host)) ?? []
            for pid in pids { kill(pid, SIGKILL) }
        }
        for pid in sshdPIDs { _ = try? await offPool { killAndReap(pid) } }
        for host in hosts { try? await Self.ip("netns", "del", host.namespace) }
        try? await Self.ip("link", "del", bridge)
        try? FileManager.default.removeItem(at: directory)
        // The hosts share the machine's /tmp: a relx `daemon` start's pipes of a node never
        // deleted through Numbat (a test that failed, or one that kills its server) stay there.
        let addresses = Set(hosts.map { "@" + $0.address })
        let pipes = URL(fileURLWithPath: "/tmp/erl_pipes")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: pipes.path)) ?? [] where addresses.contains(where: { name.hasSuffix($0) }) {
            try? FileManager.default.removeItem(at: pipes.appendingPathComponent(name))
        }
    }

    private func waitForSSH(_ host: Host) async throws {
        for _ in 0..<200 {
            if host.sshAddress == host.address {
                if try await offPool({ canConnect(host: host.address, port: 22) }) { return }
            } else if try await run(in: host, "ss -Hltn 'sport = :22'").standardOutput.contains(host.sshAddress) {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOf: directory.appendingPathComponent("sshd_\(hosts.firstIndex { $0.namespace == host.namespace } ?? 0).log"), encoding: .utf8)) ?? ""
        throw Failure(description: "sshd on \(host.address) did not listen: \(log)")
    }

    @discardableResult
    static func ip(_ arguments: String...) async throws -> ChildProcess {
        let result = try await ChildProcess.run("/usr/sbin/ip", arguments)
        guard result.status == 0 else { throw Failure(description: "ip \(arguments.joined(separator: " ")) failed: \(result.standardError)") }
        return result
    }

    @discardableResult
    public static func sh(_ command: String) async throws -> ChildProcess {
        let result = try await ChildProcess.run("/bin/sh", ["-c", command])
        guard result.status == 0 else { throw Failure(description: "\(command) failed: \(result.standardError)") }
        return result
    }
}
