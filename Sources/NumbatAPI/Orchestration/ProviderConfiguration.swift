import Foundation
import NumbatCore

/// One provider's configuration, whichever its kind. Encoded flat beside the provider's other
/// fields with its `kind`, as the orchestration records have always stored providers, so rows
/// written before this type existed decode unchanged.
public enum ProviderConfiguration: Codable, Sendable, Equatable {
    case physical(PhysicalProviderSettings)
    case ec2(EC2ProviderSettings)
    case openstack(OpenStackProviderSettings)
    case libcloud(LibcloudProviderSettings)

    public var settings: any ProviderSettings {
        switch self {
        case .physical(let settings): settings
        case .ec2(let settings): settings
        case .openstack(let settings): settings
        case .libcloud(let settings): settings
        }
    }

    public var kind: ProviderKindName { type(of: settings).kind }

    /// The kind's fields, read from a flat object whose kind is already known.
    public init(kind: ProviderKindName, from decoder: any Decoder) throws {
        self = try kind.settingsType.init(from: decoder).configuration
    }

    public init(from decoder: any Decoder) throws {
        let kind = try decoder.container(keyedBy: Keys.self).decode(ProviderKindName.self, forKey: .kind)
        try self.init(kind: kind, from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(kind, forKey: .kind)
        try settings.encode(to: encoder)
    }

    public func validate() throws { try settings.validate() }

    enum Keys: String, CodingKey { case kind }
}
