import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: FamilyStore {
    public func insertFamily(_ family: NodeFamily) async throws {
        try await client.query(Self.insert(family), logger: logger)
    }

    public func family(id: UUID) async throws -> NodeFamily? {
        try await rows("SELECT * FROM node_family WHERE id = \(id)").first.map(Self.family)
    }

    public func families() async throws -> [NodeFamily] {
        try await rows(#"SELECT * FROM node_family WHERE NOT deleted ORDER BY name COLLATE "C""#).map(Self.family)
    }

    /// One transaction: the insert gives way on the boot script's unique constraint, so two
    /// servers discovering nodes of one boot script at once make one family; the loser reads
    /// the winner's (committed by then: `ON CONFLICT` waited for it).
    public func automaticFamily(bootScript: String) async throws -> (family: NodeFamily, created: Bool) {
        let candidate = NodeFamily(name: bootScript, kind: .automatic, bootScript: bootScript)
        let logger = self.logger
        return try await transaction { connection in
            var insert = Self.insert(candidate)
            insert.sql += " ON CONFLICT (boot_script) DO NOTHING RETURNING id"
            if try await !Self.rows(insert, on: connection, logger: logger).isEmpty {
                return (candidate, true)
            }
            guard let row = try await Self.rows("SELECT * FROM node_family WHERE boot_script = \(bootScript)",
                                                on: connection, logger: logger).first
            else {
                throw NumbatError.conflict("family_conflict", "the family of \(bootScript) vanished while it was being created")
            }
            return (try Self.family(row), false)
        }
    }

    public func deleteFamily(id: UUID) async throws -> Bool {
        try await !rows("DELETE FROM node_family WHERE id = \(id) RETURNING id").isEmpty
    }

    private static func insert(_ family: NodeFamily) -> PostgresQuery {
        let options = (try? JSONEncoder().encode(family.bootstrapStrategyOptions)) ?? Data("{}".utf8)
        return """
            INSERT INTO node_family (id, name, description, kind, boot_script, node_selection, bootstrap_strategy,
                                     bootstrap_strategy_opts, created_at, deleted)
            VALUES (\(family.id), \(family.name), \(family.description), \(family.kind.rawValue), \(family.bootScript),
                    \(family.nodeSelection), \(family.bootstrapStrategy), \(String(decoding: options, as: UTF8.self)),
                    \(family.createdAt), \(family.deleted))
            """
    }

    private static func family(_ row: PostgresRandomAccessRow) throws -> NodeFamily {
        let optionsText: String = try row.value("bootstrap_strategy_opts")
        let options = (try? JSONDecoder().decode([String: String].self, from: Data(optionsText.utf8))) ?? [:]
        return NodeFamily(id: try row.value("id"), name: try row.value("name"), description: try row.value("description"),
                          kind: NodeFamily.Kind(rawValue: try row.value("kind")) ?? .automatic, bootScript: try row.value("boot_script"),
                          nodeSelection: try row.value("node_selection"), bootstrapStrategy: try row.value("bootstrap_strategy"),
                          bootstrapStrategyOptions: options, createdAt: try row.value("created_at"), deleted: try row.value("deleted"))
    }
}
