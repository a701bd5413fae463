import Foundation
import Logging
import NumbatCore
import PostgresNIO

/// The shared store: a PostgreSQL database that several Numbat servers may use at once, reached
/// through a postgres-nio connection pool. Rows, schema and behaviour mirror `SQLiteStore`
/// (the store conformance suite runs against both); secrets are sealed by the same `SecretBox`,
/// whose key file stays in the data directory, so the database alone never holds a usable secret.
public final class PostgresStore: Sendable {
    let client: PostgresClient
    /// A small pool of its own for the cluster's heartbeats and lease changes: a renewal must
    /// never queue behind the metric flushes and node writes of thousands of nodes, or the
    /// server would lose its leases while working normally.
    let leaseClient: PostgresClient
    let secrets: SecretBox
    let logger: Logger
    public let directory: URL
    public let location: PostgresLocation
    /// Runs the pool (`PostgresClient.run()`) until `shutdown()` cancels it.
    private let poolTask: Task<Void, Never>

    /// Prepares the store; no connection is made until `prepare()`.
    public init(location: PostgresLocation, directory: URL, logger: Logger, maximumConnections: Int = 10) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        self.directory = directory
        self.location = location
        self.logger = logger
        secrets = try SecretBox.loadOrCreate(at: directory.appendingPathComponent("secret.key"))
        var configuration = PostgresClient.Configuration(host: location.host, port: location.port, username: location.user,
                                                         password: location.password, database: location.database,
                                                         tls: try Self.clientTLS(location.tls))
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(10)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        configuration.options.maximumConnections = 2
        let leaseClient = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.leaseClient = leaseClient
        poolTask = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                group.addTask { await leaseClient.run() }
            }
        }
    }

    /// A store dropped without `shutdown()` (a server whose start failed halfway) still stops its pool.
    deinit {
        poolTask.cancel()
    }

    /// The migrations applied, oldest first, applying the missing ones first (see
    /// `PostgresMigrations`). Runs on a connection of its own, opened here: an unreachable
    /// database, a wrong password or a missing database is reported at once with the reason.
    public func appliedMigrations() async throws -> [String] {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: try connectionConfiguration(), id: 0, logger: logger)
        } catch {
            throw PostgresStoreError.unreachable(location: location.description, reason: PostgresStoreError.reason(error))
        }
        do {
            let applied = try await PostgresMigrations.migrate(connection, location: location, logger: logger)
            try await checkKey(on: connection)
            try? await connection.close()
            return applied
        } catch let error as PostgresStoreError {
            try? await connection.close()
            throw error
        } catch {
            try? await connection.close()
            throw PostgresStoreError.unreachable(location: location.description, reason: PostgresStoreError.reason(error))
        }
    }

    /// The first server seals a check value; every server after must open it with its key.
    private func checkKey(on connection: PostgresConnection) async throws {
        let sealed = ByteBuffer(bytes: try secrets.seal("numbat key check"))
        try await connection.query("INSERT INTO key_check (id, sealed) VALUES (1, \(sealed)) ON CONFLICT DO NOTHING", logger: logger)
        for try await stored in try await connection.query("SELECT sealed FROM key_check WHERE id = 1", logger: logger).decode(ByteBuffer.self) {
            guard (try? secrets.open(Data(stored.readableBytesView))) == "numbat key check" else {
                throw PostgresStoreError.keyMismatch(location: location.description,
                                                     keyFile: directory.appendingPathComponent("secret.key").path)
            }
        }
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch location.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                             password: location.password, database: location.database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    private static func clientTLS(_ mode: PostgresLocation.TLSMode) throws -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .prefer: return .prefer(.makeClientConfiguration())
        case .require: return .require(.makeClientConfiguration())
        }
    }

    /// Runs `body` in a transaction on a pooled connection: committed if it returns, rolled back
    /// if it throws. An error `body` throws comes out as it is (postgres-nio wraps it in a
    /// `PostgresTransactionError`), so callers see the same `NumbatError`s as from SQLite.
    func transaction<Result>(on pool: PostgresClient? = nil,
                             _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        do {
            return try await (pool ?? client).withTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error
        }
    }

    /// Rows of one query, all read (on the main pool unless `pool` is given).
    func rows(_ query: PostgresQuery, on pool: PostgresClient? = nil) async throws -> [PostgresRandomAccessRow] {
        try await (pool ?? client).query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// Rows of one query on a connection (inside a transaction).
    static func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }
}

extension PostgresStore: NumbatStorage {
    public var storeDescription: String { location.description }

    public func prepare() async throws -> [String] {
        try await appliedMigrations()
    }

    /// Closes the pool's connections; queries still running finish first.
    public func shutdown() async throws {
        poolTask.cancel()
        await poolTask.value
    }
}

extension PostgresRandomAccessRow {
    /// The named column, decoded (an Optional type for a nullable column).
    func value<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }
}
