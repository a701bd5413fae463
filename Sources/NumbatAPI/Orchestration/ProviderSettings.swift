import Foundation
import NumbatCore

/// What every provider kind's configuration is: plain Codable data (stored in the orchestration
/// records and sent by clients, in the same flat field names) that checks its own values. The
/// server adds how each kind builds its provider; the one secret of a kind is never part of it.
///
/// A new kind, or another spelling of an existing one (the seed's shapes), is a new conforming
/// type or more keys in one type's `requestFields` and `init(from:)`/`secret(from:)`.
public protocol ProviderSettings: Codable, Sendable, Equatable {
    static var kind: ProviderKindName { get }
    /// The request fields this kind takes besides `type`, `vprovider` and `name`, its secret included.
    static var requestFields: Set<String> { get }
    /// The field holding the kind's secret (masked in responses, sealed in the store).
    static var secretField: String { get }
    /// Whether a provider of this kind cannot work without its secret.
    static var secretRequired: Bool { get }
    /// The secret as a request spells it.
    static func secret(from decoder: any Decoder) throws -> String?
    /// Refuses values the provider could not use, with a 400 naming the field.
    func validate() throws
    /// Wrapped, for storing and sending.
    var configuration: ProviderConfiguration { get }
    /// The options under the seed's names where they differ from Numbat's (`tenant_name`), for
    /// the seed-shaped answer's `opts`.
    var seedOptions: [String: String] { get }
    /// Other names the seed gives the secret (`password` for EC2's key), masked in `opts` too.
    static var seedSecretFields: [String] { get }
}

extension ProviderSettings {
    public var seedOptions: [String: String] { [:] }
    public static var seedSecretFields: [String] { [] }

    public static func secret(from decoder: any Decoder) throws -> String? {
        try decoder.container(keyedBy: AnyCodingKey.self).decodeText(AnyCodingKey(secretField))
    }
}

/// A provider kind as the API names it (`physical`, `ec2`, `openstack`, `libcloud`).
public enum ProviderKindName: String, Codable, Sendable, CaseIterable {
    case physical, ec2, openstack, libcloud

    /// The request's `type`, or the seed's `{"type": "virtual", "vprovider": "ec2"}`. The seed's
    /// OpenStack clouds, `hp` and `rackspace`, are OpenStack providers (`OpenStackProviderSettings.cloud`).
    public init?(type: String, vprovider: String?) {
        let name = type == "virtual" ? vprovider ?? "" : type
        self.init(rawValue: OpenStackProviderSettings.clouds.contains(name) ? "openstack" : name)
    }

    public var settingsType: any ProviderSettings.Type {
        switch self {
        case .physical: PhysicalProviderSettings.self
        case .ec2: EC2ProviderSettings.self
        case .openstack: OpenStackProviderSettings.self
        case .libcloud: LibcloudProviderSettings.self
        }
    }
}

/// The port a cloud's images run sshd on, checked the same way for every kind that takes one.
func validateSSHPort(_ port: Int?) throws {
    if let port, !(1...65535).contains(port) { throw NumbatError.invalidField("ssh_port", "must be a port number (1-65535), not \(port)") }
}

/// Which of a cloud machine's addresses Numbat reaches nodes on.
public enum ProviderAddressType: String, Codable, Sendable {
    case `public`, `private`

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let type = Self(rawValue: text) else {
            throw NumbatError.invalidField("address_type", "must be public or private, not '\(text.prefix(64))'")
        }
        self = type
    }
}
