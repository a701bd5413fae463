import Foundation
import NumbatCore

/// Hosts at loopback addresses of the test's own network namespace, for cloud drivers whose
/// machines live there: Libcloud's dummy driver hands out 127.0.0.3, 127.0.0.4, ... One sshd
/// listens on each address, on a port of its own (the machine's sshd, if any, is untouched), in
/// a mount namespace with an empty /root, so root's dotfiles on this machine do not run in its
/// commands. Everything started through it shares that mount namespace, which is how `stop()`
/// finds and kills it all. Namespace pools started with `reachLoopback` reach these hosts.
public final class LoopbackHosts: Sendable {
    public let addresses: [String]
    public let port: Int
    public let directory: URL
    private let sshdPID: Int32
    private let mountNamespace: String

    private init(addresses: [String], port: Int, directory: URL, sshdPID: Int32, mountNamespace: String) {
        self.addresses = addresses
        self.port = port
        self.directory = directory
        self.sshdPID = sshdPID
        self.mountNamespace = mountNamespace
    }

    /// With `privateUsers`, the hosts' /etc and /home are copies of their own (users made there,
    /// as on a fresh cloud image, never touch this machine's), and each user's keys are in its
    /// own `~/.ssh/authorized_keys` (root's in `rootHome`), as on a cloud image; otherwise every
    /// user takes `authorizedKeys`.
    /// `port`: the port to listen on (22, as a cloud's machines do, where nothing else listens
    /// on it); by default a free one.
    public static func start(addresses: [String], authorizedKeys: [String], privateUsers: Bool = false, port fixed: Int? = nil) async throws -> LoopbackHosts {
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-loopback-\(tag)")
        let home = directory.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        var port = fixed ?? 0
        for _ in 0..<(fixed == nil ? 50 : 0) {
            let candidate = Int.random(in: 20_000...30_000)
            if try await offPool({ !addresses.contains { canConnect(host: $0, port: candidate) } }) { port = candidate; break }
        }
        try await TestHosts.sh("ssh-keygen -q -t ed25519 -N '' -f \(directory.path)/host_key")
        try authorizedKeys.joined(separator: "\n").appending("\n").write(to: directory.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)
        let configuration = directory.appendingPathComponent("sshd.conf")
        var mounts = "mount --bind \"$0\" /root"
        if privateUsers {
            // Tests running beside this one change /etc (the package test installs and purges
            // /etc/numbat): a copy that meets a file removed after cp listed it fails, and is
            // made again (once failed this way in CI).
            let etc = "\(directory.path)/etc"
            try await TestHosts.sh("for attempt in 1 2 3 4 5 6 7 8 9 10; do rm -rf \(etc) && cp -a /etc \(etc) && break; "
                                   + "[ \"$attempt\" = 10 ] && exit 1; done; mkdir -p \(directory.path)/homes \(home.path)/.ssh")
            try authorizedKeys.joined(separator: "\n").appending("\n").write(to: home.appendingPathComponent(".ssh/authorized_keys"), atomically: true, encoding: .utf8)
            mounts += " && mount --bind \(directory.path)/etc /etc && mount --bind \(directory.path)/homes /home"
        }
        try (addresses.map { "ListenAddress \($0):\(port)" } + [
            "HostKey \(directory.path)/host_key", privateUsers ? "AuthorizedKeysFile .ssh/authorized_keys" : "AuthorizedKeysFile \(directory.path)/authorized_keys",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
            "StrictModes no", "UsePAM no", "PidFile none", "MaxStartups 100:30:200", "MaxSessions 100",
        ]).joined(separator: "\n").appending("\n").write(to: configuration, atomically: true, encoding: .utf8)
        let sshd = Subprocess()
        sshd.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        sshd.arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c",
                          "\(mounts) && exec /usr/sbin/sshd -D -f \"$1\" -E \"$2\"",
                          home.path, configuration.path, directory.appendingPathComponent("sshd.log").path]
        sshd.standardInput = FileHandle.nullDevice
        try sshd.run()
        let pid = sshd.processIdentifier
        let listening = port
        for _ in 0..<200 {
            if try await offPool({ addresses.allSatisfy { canConnect(host: $0, port: listening) } }) {
                let namespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt")) ?? ""
                let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")) ?? ""
                guard !namespace.isEmpty, namespace != own else {
                    killAndReap(pid)
                    try? FileManager.default.removeItem(at: directory)
                    throw TestHosts.Failure(description: "the loopback sshd did not get a mount namespace of its own")
                }
                return LoopbackHosts(addresses: addresses, port: port, directory: directory, sshdPID: pid, mountNamespace: namespace)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOf: directory.appendingPathComponent("sshd.log"), encoding: .utf8)) ?? ""
        killAndReap(pid)
        try? FileManager.default.removeItem(at: directory)
        throw TestHosts.Failure(description: "the loopback sshd did not listen on \(addresses) port \(port): \(log)")
    }

    public static func with<T>(addresses: [String], authorizedKeys: [String], privateUsers: Bool = false, port: Int? = nil,
                               _ body: (LoopbackHosts) async throws -> T) async throws -> T {
        let hosts = try await start(addresses: addresses, authorizedKeys: authorizedKeys, privateUsers: privateUsers, port: port)
        do {
            let value = try await body(hosts)
            await hosts.stop()
            return value
        } catch {
            await hosts.stop()
            throw error
        }
    }

    /// root's home on the hosts (`~/.ssh/authorized_keys` there takes root's keys with `privateUsers`).
    public var rootHome: URL { directory.appendingPathComponent("home") }

    /// Every process started through the hosts' sshd (sshd itself not counted).
    public func processes() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            pid != sshdPID && (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt")) == mountNamespace
        }
    }

    public func stop() async {
        for pid in processes() { kill(pid, SIGKILL) }
        let pid = sshdPID
        _ = try? await offPool { killAndReap(pid) }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A process's command line, its arguments joined by spaces ("" once it is gone).
public func commandLine(of pid: Int32) -> String {
    guard let raw = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return "" }
    return String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
}
