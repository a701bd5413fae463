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
        pool = try DatabasePool(path: directory.appendingPathComponent("numbat.sqlite").path, configuration: configuration)
        try Migrations.migrator.migrate(pool)
    }

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
    public func insertNode(_ node: ManagedNode, cookie: String) async throws {
        let row = NodeRow(node, cookieSealed: try secrets.seal(cookie))
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
            row = NodeRow(node, cookieSealed: row.cookie_sealed)
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

    public func cookie(forNode id: UUID) async throws -> String? {
        let sealed = try await pool.read { db in try NodeRow.fetchOne(db, key: id)?.cookie_sealed }
        return try sealed.map { try secrets.open($0) }
    }

    public func nodesWithCookies(_ ids: [UUID]?) async throws -> [(node: ManagedNode, cookie: String)] {
        let rows = try await pool.read { db -> [NodeRow] in
            guard let ids else { return try NodeRow.fetchAll(db) }
            // In slices: a statement holds a bounded number of parameters.
            return try stride(from: 0, to: ids.count, by: 500).flatMap { start in
                try NodeRow.fetchAll(db, keys: ids[start..<min(start + 500, ids.count)])
            }
        }
        return try rows.map { ($0.node, try secrets.open($0.cookie_sealed)) }
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
