import Foundation
import NumbatCore

/// Any Apache Libcloud compute driver, through the server's bridge process. The driver's
/// `key` is its first argument; its `secret` (the second) is the sealed secret.
public struct LibcloudProviderSettings: ProviderSettings {
    public static let kind = ProviderKindName.libcloud
    public static let requestFields: Set<String> = ["driver", "key", "secret", "driver_options", "ssh_port", "address_type"]
    public static let secretField = "secret"
    public static let secretRequired = false

    /// `dummy`, `ec2`, `openstack`, `gce`, `azure_arm`, ...
    public var driver: String
    public var key: String?
    /// The driver's keyword arguments.
    public var driverOptions: [String: JSONValue]?
    public var sshPort: Int?
    public var addressType: ProviderAddressType?

    public init(driver: String, key: String? = nil, driverOptions: [String: JSONValue]? = nil, sshPort: Int? = nil, addressType: ProviderAddressType? = nil) {
        self.driver = driver
        self.key = key
        self.driverOptions = driverOptions
        self.sshPort = sshPort
        self.addressType = addressType
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        driver = try container.decodeText(.driver) ?? ""
        key = try container.decodeText(.key)
        switch try container.decodeIfPresent(JSONValue.self, forKey: .driverOptions) {
        case nil, .null?: driverOptions = nil
        case .object(let fields)?: driverOptions = fields
        default: throw NumbatError.invalidField("driver_options", "must be a JSON object of the driver's keyword arguments")
        }
        sshPort = try container.decodeIfPresent(Int.self, forKey: .sshPort)
        addressType = try container.decodeIfPresent(ProviderAddressType.self, forKey: .addressType)
    }

    public func validate() throws {
        guard !driver.isEmpty else {
            throw NumbatError.invalidField("driver", "is required: a Libcloud compute driver name (dummy, ec2, openstack, gce, ...)")
        }
        try validateSSHPort(sshPort)
    }

    public var configuration: ProviderConfiguration { .libcloud(self) }

    enum CodingKeys: String, CodingKey {
        case driver, key
        case driverOptions = "driver_options"
        case sshPort = "ssh_port"
        case addressType = "address_type"
    }
}
