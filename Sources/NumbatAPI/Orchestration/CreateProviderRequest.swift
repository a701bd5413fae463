import Foundation
import NumbatCore

/// `POST /api/orch/providers` (seed listing 5): a name, the kind (`type`, or the seed's
/// `{"type": "virtual", "vprovider": ...}`), the kind's fields and its secret, all flat.
/// Fields of another kind, or misspelt, are refused with a 400 naming them.
public struct CreateProviderRequest: Codable, Sendable, Equatable {
    public var name: String
    public var configuration: ProviderConfiguration
    /// The kind's secret (`private_key`, `secret_access_key`, `password` or `secret`).
    public var secret: String?

    public init(name: String, configuration: ProviderConfiguration, secret: String? = nil) {
        self.name = name
        self.configuration = configuration
        self.secret = secret
    }

    public static let commonFields: Set<String> = ["type", "vprovider", "name"]
    /// Every field some kind takes: what a first, kind-blind check allows.
    public static let allowedFields = ProviderKindName.allCases.reduce(commonFields) { $0.union($1.settingsType.requestFields) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        let type = try container.decodeIfPresent(String.self, forKey: AnyCodingKey("type")) ?? ""
        let vprovider = try container.decodeIfPresent(String.self, forKey: AnyCodingKey("vprovider"))
        guard let kind = ProviderKindName(type: type, vprovider: vprovider) else {
            let given = type == "virtual" ? vprovider ?? "" : type
            throw NumbatError.badRequest("unknown_provider_type", "type must be physical, ec2, openstack or libcloud (or virtual with vprovider ec2, openstack or libcloud), not '\(given.prefix(64))'")
        }
        try decoder.rejectUnknownFields(Self.commonFields.union(kind.settingsType.requestFields), of: "a provider of type \(kind.rawValue)")
        name = try container.decodeIfPresent(String.self, forKey: AnyCodingKey("name")) ?? ""
        configuration = try ProviderConfiguration(kind: kind, from: decoder)
        secret = try kind.settingsType.secret(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        try container.encode(configuration.kind.rawValue, forKey: AnyCodingKey("type"))
        try container.encode(name, forKey: AnyCodingKey("name"))
        try container.encodeIfPresent(secret, forKey: AnyCodingKey(type(of: configuration.settings).secretField))
        try configuration.settings.encode(to: encoder)
    }

    /// The name, the kind's values, and its secret when the kind needs one.
    public func validate() throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw NumbatError.invalidField("name", "is required: a name for the provider") }
        try configuration.validate()
        let settings = type(of: configuration.settings)
        if settings.secretRequired, secret == nil {
            throw NumbatError.invalidField(settings.secretField, "is required for a provider of type \(settings.kind.rawValue)")
        }
    }
}
