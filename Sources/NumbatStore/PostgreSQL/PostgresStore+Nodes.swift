import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: NodeStore {
    public func insertNode(_ node: ManagedNode, credentials: NodeCredentials) async throws {
        let sealed = try secrets.seal(credentials.cookie)
        let tls = try secrets.seal(credentials.tls)
        // The name's unique constraint decides, so two servers adding one name at once make one node.
        let inserted = try await rows("""
            INSERT INTO node (id, name, state, family_id, host, port, otp_release, boot_script, discovered_from, last_error,
                              added_at, state_changed_at, cookie_sealed, tls_sealed)
            VALUES (\(node.id), \(node.name), \(node.state.rawValue), \(node.familyID), \(node.host), \(node.port), \(node.otpRelease),
                    \(node.bootScript), \(node.discoveredFrom), \(node.lastError), \(node.addedAt), \(node.stateChangedAt), \(sealed), \(tls))
            ON CONFLICT (name) DO NOTHING RETURNING id
            """)
        if inserted.isEmpty { throw NumbatError.conflict("node_exists", "\(node.name) is already managed") }
    }

    public func updateNode(_ node: ManagedNode) async throws {
        try await client.query("""
            UPDATE node SET name = \(node.name), state = \(node.state.rawValue), family_id = \(node.familyID), host = \(node.host), port = \(node.port),
                otp_release = \(node.otpRelease), boot_script = \(node.bootScript), discovered_from = \(node.discoveredFrom),
                last_error = \(node.lastError), added_at = \(node.addedAt), state_changed_at = \(node.stateChangedAt)
            WHERE id = \(node.id)
            """, logger: logger)
    }

    public func node(id: UUID) async throws -> ManagedNode? {
        try await rows("SELECT * FROM node WHERE id = \(id)").first.map(Self.node)
    }

    public func node(named name: String) async throws -> ManagedNode? {
        try await rows("SELECT * FROM node WHERE name = \(name)").first.map(Self.node)
    }

    public func nodes() async throws -> [ManagedNode] {
        // COLLATE "C": byte order, as SQLite sorts text.
        try await rows(#"SELECT * FROM node ORDER BY name COLLATE "C""#).map(Self.node)
    }

    public func credentials(forNode id: UUID) async throws -> NodeCredentials? {
        guard let row = try await rows("SELECT cookie_sealed, tls_sealed FROM node WHERE id = \(id)").first else { return nil }
        return try credentials(row)
    }

    public func setTLS(_ tls: TLSCredentials?, forNode id: UUID) async throws -> Bool {
        let sealed = try secrets.seal(tls)
        return try await !rows("UPDATE node SET tls_sealed = \(sealed) WHERE id = \(id) RETURNING id").isEmpty
    }

    public func nodesWithCredentials(_ ids: [UUID]?) async throws -> [(node: ManagedNode, credentials: NodeCredentials)] {
        let rows = if let ids {
            try await rows("SELECT * FROM node WHERE id = ANY(\(ids))")
        } else {
            try await rows("SELECT * FROM node")
        }
        return try rows.map { row in (try Self.node(row), try credentials(row)) }
    }

    public func familiesTLS() async throws -> [UUID: TLSCredentials] {
        var all: [UUID: TLSCredentials] = [:]
        for row in try await rows("SELECT id, tls_sealed FROM node_family WHERE tls_sealed IS NOT NULL") {
            all[try row.value("id", as: UUID.self)] = try secrets.openTLS(try row.value("tls_sealed", as: Data?.self))
        }
        return all
    }

    public func setTLS(_ tls: TLSCredentials?, forFamily id: UUID) async throws -> Bool {
        let sealed = try secrets.seal(tls)
        return try await !rows("UPDATE node_family SET tls_sealed = \(sealed) WHERE id = \(id) AND NOT deleted RETURNING id").isEmpty
    }

    private func credentials(_ row: PostgresRandomAccessRow) throws -> NodeCredentials {
        NodeCredentials(cookie: try secrets.open(try row.value("cookie_sealed", as: Data.self)),
                        tls: try secrets.openTLS(try row.value("tls_sealed", as: Data?.self)))
    }

    public func deleteNode(id: UUID) async throws -> Bool {
        try await !rows("DELETE FROM node WHERE id = \(id) RETURNING id").isEmpty
    }

    private static func node(_ row: PostgresRandomAccessRow) throws -> ManagedNode {
        ManagedNode(id: try row.value("id"), name: try row.value("name"),
                    state: NodeState(rawValue: try row.value("state")) ?? .error, familyID: try row.value("family_id"),
                    host: try row.value("host"), port: try row.value("port"), otpRelease: try row.value("otp_release"), bootScript: try row.value("boot_script"),
                    discoveredFrom: try row.value("discovered_from"), lastError: try row.value("last_error"),
                    addedAt: try row.value("added_at"), stateChangedAt: try row.value("state_changed_at"))
    }
}
