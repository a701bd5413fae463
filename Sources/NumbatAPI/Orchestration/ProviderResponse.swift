import Foundation
import NumbatCore

/// A provider as the API shows it: its configuration flat beside `id`, `name`, `kind` and
/// `created_at`, and in the seed's shape (listing 5's answer) `uuid`, `type`, `driver` and
/// `opts` (the options as the seed's request spells them); the kind's secret masked, never its
/// value.
public struct ProviderResponse: Codable, Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var createdAt: Date
    public var configuration: ProviderConfiguration

    public static let mask = "********"

    public init(id: UUID, name: String, createdAt: Date, configuration: ProviderConfiguration) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.configuration = configuration
    }

    public var kind: ProviderKindName { configuration.kind }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(UUID.self, forKey: .id)
        name = try container.decode(String.self, forKey: .name)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        configuration = try ProviderConfiguration(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(id, forKey: .uuid)
        try container.encode(name, forKey: .name)
        try container.encode(createdAt, forKey: .createdAt)
        try configuration.encode(to: encoder)
        let settings = configuration.settings
        var secrets = encoder.container(keyedBy: AnyCodingKey.self)
        if hasSecret { try secrets.encode(Self.mask, forKey: AnyCodingKey(type(of: settings).secretField)) }
        // The seed's shape: {"uuid", "name", "type", "driver", "opts": {...}}.
        try secrets.encode(seedType, forKey: AnyCodingKey("type"))
        try secrets.encode("numbat_\(kind.rawValue)_driver", forKey: AnyCodingKey("driver"))
        let opts = secrets.superEncoder(forKey: AnyCodingKey("opts"))
        try settings.encode(to: opts)
        var seed = opts.container(keyedBy: AnyCodingKey.self)
        try seed.encode(name, forKey: AnyCodingKey("name"))
        try seed.encode(kind == .physical ? "physical" : "virtual", forKey: AnyCodingKey("type"))
        if kind != .physical { try seed.encode(seedType, forKey: AnyCodingKey("vprovider")) }
        for (field, value) in settings.seedOptions.sorted(by: { $0.key < $1.key }) { try seed.encode(value, forKey: AnyCodingKey(field)) }
        for field in Set([type(of: settings).secretField] + type(of: settings).seedSecretFields) where hasSecret {
            try seed.encode(Self.mask, forKey: AnyCodingKey(field))
        }
    }

    /// Whether the provider has a secret to show masked: a physical provider made without a
    /// key logs in with the server user's own SSH setup and has none.
    var hasSecret: Bool {
        if case .physical(let settings) = configuration { return settings.publicKey != nil }
        return true
    }

    /// The seed's name of the kind: `physical`, `ec2`, `hp`, `rackspace`, `openstack`, `libcloud`.
    public var seedType: String {
        if case .openstack(let settings) = configuration, let cloud = settings.cloud { return cloud }
        return kind.rawValue
    }

    enum CodingKeys: String, CodingKey {
        case id, uuid, name
        case createdAt = "created_at"
    }
}
