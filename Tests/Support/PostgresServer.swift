import Foundation

/// A real PostgreSQL 15 server (Debian's `postgresql` package) for one test or suite: its own
/// data directory under a temporary directory, listening on 127.0.0.1 on a free port with its
/// socket in that directory, no system service involved. `initdb` and `pg_ctl` run as the
/// `postgres` user when the tests run as root (PostgreSQL refuses to run as root), as the
/// current user otherwise. `stop()` kills it (`pg_ctl -m immediate`) and removes every file.
public final class PostgresServer: Sendable {
    public static let binaries = URL(fileURLWithPath: "/usr/lib/postgresql/15/bin")
    /// The superuser `initdb` makes; connections from loopback need no password (`-A trust`).
    public static let user = "postgres"

    /// Whether Debian's PostgreSQL 15 server binaries are installed.
    public static var isInstalled: Bool {
        ["initdb", "pg_ctl", "postgres", "createdb", "psql"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: binaries.appendingPathComponent($0).path)
                || FileManager.default.isExecutableFile(atPath: "/usr/bin/\($0)")
        }
    }

    public let directory: URL
    public let port: Int
    public var dataDirectory: URL { directory.appendingPathComponent("data") }

    private init(directory: URL, port: Int) {
        self.directory = directory
        self.port = port
    }

    /// Makes a data directory and starts the server on it, waiting until it accepts connections.
    /// `alsoListenOn` adds addresses beside 127.0.0.1 (a network namespace's host side, say),
    /// each trusting clients of its /24 as loopback clients are trusted.
    public static func start(alsoListenOn extraAddresses: [String] = []) async throws -> PostgresServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            try handOver(directory)
            try await runChecked(tool("initdb"), ["-D", directory.appendingPathComponent("data").path, "-A", "trust", "-U", user,
                                                   "--no-sync", "-E", "UTF8", "--locale=C"], as: true)
            if !extraAddresses.isEmpty {
                let hba = directory.appendingPathComponent("data/pg_hba.conf")
                let handle = try FileHandle(forWritingTo: hba)
                handle.seekToEndOfFile()
                let networks = extraAddresses.map { $0.split(separator: ".").prefix(3).joined(separator: ".") + ".0/24" }
                handle.write(Data(networks.map { "host all all \($0) trust\n" }.joined().utf8))
                try handle.close()
            }
            let listen = (["127.0.0.1"] + extraAddresses).joined(separator: ",")
            // A free port may be taken between the probe and the start: try a few.
            var lastError: (any Error)?
            for _ in 0..<5 {
                let port = try freeLoopbackPort()
                let server = PostgresServer(directory: directory, port: port)
                do {
                    try await server.pgctl(["-o", "-p \(port) -k \(directory.path) -c listen_addresses=\(listen) -c fsync=off "
                                                + "-c synchronous_commit=off -c full_page_writes=off",
                                            "-l", directory.appendingPathComponent("log").path, "-w", "-t", "60", "start"])
                    return server
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? Failure(description: "PostgreSQL did not start")
        } catch {
            let log = (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: directory)
            throw Failure(description: "\(error)\n\(log.suffix(2000))")
        }
    }

    /// Runs `body` against a fresh server that is stopped and removed afterwards, whatever happens.
    public static func with<T: Sendable>(alsoListenOn extraAddresses: [String] = [], _ body: @Sendable (PostgresServer) async throws -> T) async throws -> T {
        let server = try await start(alsoListenOn: extraAddresses)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Creates a database owned by the superuser.
    public func createDatabase(_ name: String) async throws {
        try await Self.runChecked(Self.tool("createdb"), ["-h", "127.0.0.1", "-p", "\(port)", "-U", Self.user, name], as: false)
    }

    /// The store URL of `database` (no TLS: the server has no certificate), reached at `host`
    /// (127.0.0.1, or one of the addresses given to `start(alsoListenOn:)`).
    public func url(database: String, host: String = "127.0.0.1") -> String {
        "postgres://\(Self.user)@\(host):\(port)/\(database)?sslmode=disable"
    }

    /// Runs SQL through `psql` (an independent client) and returns its unaligned output.
    public func psql(_ sql: String, database: String) async throws -> String {
        try await Self.runChecked(Self.tool("psql"), ["-h", "127.0.0.1", "-p", "\(port)", "-U", Self.user, "-d", database,
                                                      "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], as: false)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Kills the server at once (no checkpoint: its files are deleted anyway) and removes them.
    public func stop() async {
        _ = try? await pgctl(["-m", "immediate", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    private func pgctl(_ arguments: [String]) async throws {
        try await Self.runChecked(Self.tool("pg_ctl"), ["-D", dataDirectory.path] + arguments, as: true)
    }

    // MARK: - Processes

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private static var isRoot: Bool { getuid() == 0 }

    private static func tool(_ name: String) -> String {
        let path = binaries.appendingPathComponent(name).path
        return FileManager.default.isExecutableFile(atPath: path) ? path : "/usr/bin/\(name)"
    }

    /// Runs a tool, as `postgres` when `asServerUser` and the tests run as root; throws with its
    /// output when it fails.
    @discardableResult
    private static func runChecked(_ executable: String, _ arguments: [String], as asServerUser: Bool) async throws -> String {
        let result: ChildProcess
        if asServerUser && isRoot {
            result = try await ChildProcess.run("/usr/sbin/runuser", ["-u", user, "--", executable] + arguments)
        } else {
            result = try await ChildProcess.run(executable, arguments)
        }
        guard result.status == 0 else {
            throw Failure(description: "\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments.joined(separator: " ")) "
                + "exited with \(result.status): \(result.standardError)\(result.standardOutput)")
        }
        return result.standardOutput
    }

    /// Gives the directory to the `postgres` user when running as root.
    private static func handOver(_ directory: URL) throws {
        guard isRoot else { return }
        guard let entry = getpwnam(user) else { throw Failure(description: "no \(user) user: is Debian's postgresql installed?") }
        guard chown(directory.path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
            throw Failure(description: "chown \(directory.path): \(String(cString: strerror(errno)))")
        }
    }

    /// A port nothing listens on now: bound to and released.
    private static func freeLoopbackPort() throws -> Int {
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(description: "bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension Requirement {
    /// Debian's PostgreSQL 15 (`PostgresServer`).
    public static let postgres = Requirement("Debian's postgresql (PostgreSQL 15 in /usr/lib/postgresql/15/bin; scripts/install-test-deps.sh)") {
        PostgresServer.isInstalled
    }
}
