import Foundation
import NumbatCore

/// A provider as the API shows it: its configuration flat beside `id` (and the seed's `uuid`),
/// `name`, `kind` and `created_at`, with the kind's secret masked, never its value.
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
        var secrets = encoder.container(keyedBy: AnyCodingKey.self)
        try secrets.encode(Self.mask, forKey: AnyCodingKey(type(of: configuration.settings).secretField))
    }

    enum CodingKeys: String, CodingKey {
        case id, uuid, name
        case createdAt = "created_at"
    }
}
