import Foundation
import GRDB
import NumbatCore

/// `node` table rows; `ManagedNode` stays free of storage concerns.
struct NodeRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "node"

    var id: UUID
    var name: String
    var state: String
    var family_id: UUID?
    var host: String
    var port: Int?
    var otp_release: String?
    var boot_script: String?
    var discovered_from: UUID?
    var last_error: String?
    var added_at: Date
    var state_changed_at: Date
    var cookie_sealed: Data
    /// The node's own `TLSCredentials`, sealed whole; NULL: none.
    var tls_sealed: Data?

    init(_ node: ManagedNode, cookieSealed: Data, tlsSealed: Data?) {
        id = node.id
        name = node.name
        state = node.state.rawValue
        family_id = node.familyID
        host = node.host
        port = node.port
        otp_release = node.otpRelease
        boot_script = node.bootScript
        discovered_from = node.discoveredFrom
        last_error = node.lastError
        added_at = node.addedAt
        state_changed_at = node.stateChangedAt
        cookie_sealed = cookieSealed
        tls_sealed = tlsSealed
    }

    var node: ManagedNode {
        ManagedNode(id: id, name: name, state: NodeState(rawValue: state) ?? .error, familyID: family_id, host: host, port: port,
                    otpRelease: otp_release, bootScript: boot_script, discoveredFrom: discovered_from,
                    lastError: last_error, addedAt: added_at, stateChangedAt: state_changed_at)
    }
}

/// `node_family` table rows.
struct FamilyRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "node_family"

    var id: UUID
    var name: String
    var description: String
    var kind: String
    var boot_script: String?
    var node_selection: String
    var bootstrap_strategy: String
    var bootstrap_strategy_opts: String
    var created_at: Date
    var deleted: Bool

    init(_ family: NodeFamily) {
        id = family.id
        name = family.name
        description = family.description
        kind = family.kind.rawValue
        boot_script = family.bootScript
        node_selection = family.nodeSelection
        bootstrap_strategy = family.bootstrapStrategy
        let options = (try? JSONEncoder().encode(family.bootstrapStrategyOptions)) ?? Data("{}".utf8)
        bootstrap_strategy_opts = String(decoding: options, as: UTF8.self)
        created_at = family.createdAt
        deleted = family.deleted
    }

    var family: NodeFamily {
        let options = (try? JSONDecoder().decode([String: String].self, from: Data(bootstrap_strategy_opts.utf8))) ?? [:]
        return NodeFamily(id: id, name: name, description: description, kind: NodeFamily.Kind(rawValue: kind) ?? .automatic,
                          bootScript: boot_script, nodeSelection: node_selection, bootstrapStrategy: bootstrap_strategy,
                          bootstrapStrategyOptions: options, createdAt: created_at, deleted: deleted)
    }
}

/// `api_token` table rows.
struct TokenRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "api_token"

    var id: UUID
    var name: String
    var role: String
    var token_hash: Data
    var created_at: Date
    var last_used_at: Date?
}
