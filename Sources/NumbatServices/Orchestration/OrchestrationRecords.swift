import Foundation
import NumbatCore
import Hummingbird
import NumbatAPI
import NumbatProviders

/// A record orchestration keeps in the `OrchestrationStore`: its kind names the collection.
protocol OrchestrationRecord: Codable, Sendable {
    static var kind: String { get }
    var id: UUID { get }
    /// The record it belongs to (a domain's family), for listing by parent.
    var parent: UUID? { get }
}

/// A provider (seed listing 5): its name and its kind's typed configuration, stored flat with
/// `kind` as rows have always been. The kind's secret (`private_key`, `secret_access_key`,
/// `password`, `secret`) lives in the sealed secret, never here.
struct ProviderRecord: OrchestrationRecord, Equatable {
    static let kind = "provider"
    var id: UUID
    var name: String
    var createdAt: Date
    var configuration: ProviderConfiguration
    var parent: UUID? { nil }

    var kind: ProviderKindName { configuration.kind }

    /// Where releases go on the machines: a physical provider's own directory; none for clouds,
    /// whose machines are the node's alone.
    var releaseDirectory: String? {
        if case .physical(let settings) = configuration { settings.directory } else { nil }
    }

    init(id: UUID, name: String, createdAt: Date, configuration: ProviderConfiguration) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.configuration = configuration
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(UUID.self, forKey: .id)
        name = try container.decode(String.self, forKey: .name)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        configuration = try ProviderConfiguration(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(createdAt, forKey: .createdAt)
        try configuration.encode(to: encoder)
    }

    var response: ProviderResponse { ProviderResponse(id: id, name: name, createdAt: createdAt, configuration: configuration) }

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdAt = "created_at"
    }
}

/// An uploaded release (seed listing 8). The archive is a file in the data directory; the
/// cookie is the sealed secret.
struct ReleaseRecord: OrchestrationRecord, Equatable {
    static let kind = "release"
    var id: UUID
    var name: String
    var description: String
    var startCommand: String
    var stopCommand: String
    /// Paths in the archive whose `{{ node_name }}` (and `{{ cookie }}`) are replaced per node.
    var nodeNameTemplates: [String]
    /// Environment for the start and stop commands, with the same placeholders: how releases
    /// that take their name from the environment are deployed (`RELEASE_NODE`, `RELX_REPLACE_OS_VARS`).
    var environment: [String: String]
    var templates: [String: String]
    var releaseName: String
    var version: String
    var includesERTS: Bool
    var size: Int
    var sha256: String
    var state: String
    var createdAt: Date
    var parent: UUID? { nil }

    enum CodingKeys: String, CodingKey {
        case id, name, description, environment, templates, version, size, sha256, state
        case startCommand = "start_cmd"
        case stopCommand = "stop_cmd"
        case nodeNameTemplates = "node_name_templates"
        case releaseName = "release_name"
        case includesERTS = "includes_erts"
        case createdAt = "created_at"
    }
}

/// What a deployment family adds to its topology record: its release, firewall rules and the
/// key pair it uploads to clouds. The private key is the sealed secret.
struct FamilyPlan: OrchestrationRecord, Equatable {
    static let kind = "family_plan"
    var id: UUID
    var releaseID: UUID?
    var firewall: [FirewallRule]
    var publicKey: String
    var parent: UUID? { nil }

    enum CodingKeys: String, CodingKey {
        case id, firewall
        case releaseID = "release"
        case publicKey = "public_key"
    }
}

/// A deployment domain (seed 4.1.3): the part of a family on one provider, with its image,
/// size and SSH user, and what Numbat made on the provider for it.
struct DomainRecord: OrchestrationRecord, Equatable {
    static let kind = "domain"
    var id: UUID
    var familyID: UUID
    var providerID: UUID
    var sshUser: String
    var vdisk: String
    var hwProfile: String
    var keyName: String?
    var securityGroupID: String?
    /// What the provider could not do for the family (a Libcloud driver without security
    /// groups cannot apply the firewall), so the user is told rather than left to guess.
    var warnings: [String]?
    var createdAt: Date
    var parent: UUID? { familyID }

    var response: DomainResponse {
        DomainResponse(id: id, familyID: familyID, providerID: providerID, sshUser: sshUser, vdisk: vdisk, hwProfile: hwProfile,
                       keyName: keyName, securityGroupID: securityGroupID, warnings: warnings, createdAt: createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, vdisk, warnings
        case familyID = "family"
        case providerID = "provider"
        case sshUser = "ssh_user"
        case hwProfile = "hw_profile"
        case keyName = "key_name"
        case securityGroupID = "security_group"
        case createdAt = "created_at"
    }
}

/// Where a deployed node lives and how far its deployment got.
struct DeploymentRecord: OrchestrationRecord, Equatable {
    static let kind = "deployment"
    var id: UUID
    var familyID: UUID
    var domainID: UUID
    var providerID: UUID
    var releaseID: UUID
    var instanceID: String?
    var address: String?
    var sshPort: Int
    /// The node's directory on its host.
    var directory: String?
    var hostKey: String?
    var step: DeploymentStep
    var message: String?
    var createdAt: Date
    /// The server running the deployment or node action now (its hidden node's name), nil once
    /// it is settled or handed over: the next holder of the node resumes an unsettled one only
    /// when this server has let go of it or is dead (`OrchestrationService.takeOver`).
    var runner: String?
    /// Whether the deployment starts the release (nil, in records older than this field: yes).
    var autostart: Bool?
    /// Whether the deployment was done once: a failure of a later action (a start cut short,
    /// resumed) leaves the node in ERROR but never destroys what the deployment made. Nil in
    /// older records: nothing is destroyed either.
    var completed: Bool?
    var parent: UUID? { familyID }

    enum CodingKeys: String, CodingKey {
        case id, address, directory, step, message, runner, autostart, completed
        case familyID = "family"
        case domainID = "domain"
        case providerID = "provider"
        case releaseID = "release"
        case instanceID = "instance"
        case sshPort = "ssh_port"
        case hostKey = "host_key"
        case createdAt = "created_at"
    }
}

/// Typed access to the store's documents.
struct OrchestrationRecords: Sendable {
    let store: any OrchestrationStore
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    func save<R: OrchestrationRecord>(_ record: R) async throws {
        try await store.putRecord(kind: R.kind, id: record.id, parent: record.parent, body: Self.encoder.encode(record))
    }

    func load<R: OrchestrationRecord>(_ type: R.Type, id: UUID) async throws -> R? {
        try await store.record(kind: R.kind, id: id).map { try Self.decoder.decode(R.self, from: $0) }
    }

    func all<R: OrchestrationRecord>(_ type: R.Type, parent: UUID? = nil) async throws -> [R] {
        try await store.records(kind: R.kind, parent: parent).map { try Self.decoder.decode(R.self, from: $0) }
    }

    func delete<R: OrchestrationRecord>(_ type: R.Type, id: UUID) async throws {
        _ = try await store.deleteRecord(kind: R.kind, id: id)
    }

    /// The record's secrets, a JSON object of strings.
    func secrets<R: OrchestrationRecord>(of type: R.Type, id: UUID) async throws -> [String: String] {
        guard let text = try await store.recordSecret(kind: R.kind, id: id) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }

    func setSecrets<R: OrchestrationRecord>(of type: R.Type, id: UUID, _ secrets: [String: String]) async throws {
        let text = String(decoding: try JSONEncoder().encode(secrets), as: UTF8.self)
        try await store.setRecordSecret(kind: R.kind, id: id, secret: text)
    }
}

extension ReleaseRecord {
    /// The release as the API shows it: never its cookie.
    var response: ReleaseResponse {
        ReleaseResponse(uuid: id, name: name, description: description, state: state, path: "releases/\(id.uuidString.lowercased()).tar.gz",
                        templates: nodeNameTemplates, environment: environment, startCmd: startCommand, stopCmd: stopCommand,
                        release: releaseName, version: version, includesERTS: includesERTS, size: size, sha256: sha256)
    }
}
