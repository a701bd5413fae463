import Foundation
import GRDB
import NumbatCore

/// The embedded store: one SQLite file in WAL mode under the data directory, with secrets sealed
/// by a `SecretBox` whose key file sits beside it.
public final class SQLiteStore: Sendable {
    let pool: DatabasePool
    let secrets: SecretBox
    public let directory: URL

    /// Opens (creating if needed) the store in `directory` and migrates it to the latest schema.
    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        self.directory = directory
        secrets = try SecretBox.loadOrCreate(at: directory.appendingPathComponent("secret.key"))
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // Readers (up to five) get a page cache of 512 KiB, not SQLite's 2 MiB each: they
            // answer the API's queries, whose pages the kernel's file cache holds anyway, and
            // five full caches were ~8 KB per node of resident memory at 1,000 nodes. The
            // writer keeps 2 MiB for its indexes.
            if db.configuration.readonly { try db.execute(sql: "PRAGMA cache_size = -\(Self.readerCacheKiB)") }
        }
        pool = try DatabasePool(path: directory.appendingPathComponent("numbat.sqlite").path, configuration: configuration)
        try Migrations.migrator.migrate(pool)
    }

    /// Each reader connection's page cache, in KiB.
    static let readerCacheKiB = 512

    /// Checkpoints the WAL into the main file and closes the pool.
    public func close() throws {
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        try pool.close()
    }

    /// The migrations applied, oldest first (for `numbat serve` to log and tests to check).
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try Migrations.migrator.appliedMigrations(db) }
    }
}

extension SQLiteStore: NodeStore {
    public func insertNode(_ node: ManagedNode, credentials: NodeCredentials) async throws {
        let row = NodeRow(node, cookieSealed: try secrets.seal(credentials.cookie), tlsSealed: try secrets.seal(credentials.tls))
        try await pool.write { db in
            if try NodeRow.filter(Column("name") == node.name).fetchCount(db) > 0 {
                throw NumbatError.conflict("node_exists", "\(node.name) is already managed")
            }
            try row.insert(db)
        }
    }

    public func updateNode(_ node: ManagedNode) async throws {
        try await pool.write { db in
            guard var row = try NodeRow.fetchOne(db, key: node.id) else { return }
            row = NodeRow(node, cookieSealed: row.cookie_sealed, tlsSealed: row.tls_sealed)
            try row.update(db)
        }
    }

    public func node(id: UUID) async throws -> ManagedNode? {
        try await pool.read { db in try NodeRow.fetchOne(db, key: id)?.node }
    }

    public func node(named name: String) async throws -> ManagedNode? {
        try await pool.read { db in try NodeRow.filter(Column("name") == name).fetchOne(db)?.node }
    }

    public func nodes() async throws -> [ManagedNode] {
        try await pool.read { db in try NodeRow.order(Column("name")).fetchAll(db).map(\.node) }
    }

    public func credentials(forNode id: UUID) async throws -> NodeCredentials? {
        let row = try await pool.read { db in try NodeRow.fetchOne(db, key: id) }
        return try row.map(credentials)
    }

    public func setTLS(_ tls: TLSCredentials?, forNode id: UUID) async throws -> Bool {
        let sealed = try secrets.seal(tls)
        return try await pool.write { db in
            try db.execute(sql: "UPDATE node SET tls_sealed = ? WHERE id = ?", arguments: [sealed, id])
            return db.changesCount > 0
        }
    }

    public func nodesWithCredentials(_ ids: [UUID]?) async throws -> [(node: ManagedNode, credentials: NodeCredentials)] {
        let rows = try await pool.read { db -> [NodeRow] in
            guard let ids else { return try NodeRow.fetchAll(db) }
            // In slices: a statement holds a bounded number of parameters.
            return try stride(from: 0, to: ids.count, by: 500).flatMap { start in
                try NodeRow.fetchAll(db, keys: ids[start..<min(start + 500, ids.count)])
            }
        }
        return try rows.map { ($0.node, try credentials($0)) }
    }

    public func familiesTLS() async throws -> [UUID: TLSCredentials] {
        let rows = try await pool.read { db -> [Row] in
            try Row.fetchAll(db, sql: "SELECT id, tls_sealed FROM node_family WHERE tls_sealed IS NOT NULL")
        }
        var all: [UUID: TLSCredentials] = [:]
        for row in rows {
            let id: UUID = row["id"]
            all[id] = try secrets.openTLS(row["tls_sealed"])
        }
        return all
    }

    public func setTLS(_ tls: TLSCredentials?, forFamily id: UUID) async throws -> Bool {
        let sealed = try secrets.seal(tls)
        return try await pool.write { db in
            try db.execute(sql: "UPDATE node_family SET tls_sealed = ? WHERE id = ? AND deleted = 0", arguments: [sealed, id])
            return db.changesCount > 0
        }
    }

    private func credentials(_ row: NodeRow) throws -> NodeCredentials {
        NodeCredentials(cookie: try secrets.open(row.cookie_sealed), tls: try secrets.openTLS(row.tls_sealed))
    }

    public func deleteNode(id: UUID) async throws -> Bool {
        try await pool.write { db in try NodeRow.deleteOne(db, key: id) }
    }
}

extension SQLiteStore: FamilyStore {
    public func insertFamily(_ family: NodeFamily) async throws {
        try await pool.write { db in try FamilyRow(family).insert(db) }
    }

    public func family(id: UUID) async throws -> NodeFamily? {
        try await pool.read { db in try FamilyRow.fetchOne(db, key: id)?.family }
    }

    public func families() async throws -> [NodeFamily] {
        try await pool.read { db in try FamilyRow.filter(Column("deleted") == false).order(Column("name")).fetchAll(db).map(\.family) }
    }

    public func automaticFamily(bootScript: String) async throws -> (family: NodeFamily, created: Bool) {
        try await pool.write { db in
            if let row = try FamilyRow.filter(Column("boot_script") == bootScript).fetchOne(db) {
                return (row.family, false)
            }
            let family = NodeFamily(name: bootScript, kind: .automatic, bootScript: bootScript)
            try FamilyRow(family).insert(db)
            return (family, true)
        }
    }

    public func deleteFamily(id: UUID) async throws -> Bool {
        try await pool.write { db in try FamilyRow.deleteOne(db, key: id) }
    }
}

extension SQLiteStore: TokenStore {
    public func insertToken(_ token: APIToken, secretHash: Data) async throws {
        let row = TokenRow(id: token.id, name: token.name, role: token.role.rawValue, token_hash: secretHash,
                           created_at: token.createdAt, last_used_at: token.lastUsedAt)
        try await pool.write { db in try row.insert(db) }
    }

    public func token(secretHash: Data) async throws -> APIToken? {
        try await pool.read { db in
            try TokenRow.filter(Column("token_hash") == secretHash).fetchOne(db).map(Self.token)
        }
    }

    public func tokens() async throws -> [APIToken] {
        try await pool.read { db in try TokenRow.order(Column("created_at")).fetchAll(db).map(Self.token) }
    }

    public func deleteToken(id: UUID) async throws -> Bool {
        try await pool.write { db in try TokenRow.deleteOne(db, key: id) }
    }

    public func touchToken(id: UUID, at time: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE api_token SET last_used_at = ? WHERE id = ?", arguments: [time, id])
        }
    }

    private static func token(_ row: TokenRow) -> APIToken {
        APIToken(id: row.id, name: row.name, role: APIToken.Role(rawValue: row.role) ?? .viewer,
                 createdAt: row.created_at, lastUsedAt: row.last_used_at)
    }
}
