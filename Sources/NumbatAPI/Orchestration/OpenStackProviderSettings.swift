import Foundation
import NumbatCore

/// OpenStack through Keystone v3, Nova and Neutron. The secret is the user's `password`.
public struct OpenStackProviderSettings: ProviderSettings {
    public static let kind = ProviderKindName.openstack
    public static let requestFields: Set<String> = [
        "auth_url", "username", "password", "project_name", "domain_name", "region", "network", "floating_ip_pool", "ssh_port", "address_type",
    ]
    public static let secretField = "password"
    public static let secretRequired = true

    /// Keystone's URL.
    public var authURL: String
    public var username: String
    public var projectName: String
    /// The user's and project's domain (`Default` when absent).
    public var domainName: String?
    public var region: String?
    /// The network new servers attach to.
    public var network: String?
    /// The external network floating IPs come from, for clouds whose servers have no public address.
    public var floatingIPPool: String?
    public var sshPort: Int?
    public var addressType: ProviderAddressType?

    public init(authURL: String, username: String, projectName: String, domainName: String? = nil, region: String? = nil,
                network: String? = nil, floatingIPPool: String? = nil, sshPort: Int? = nil, addressType: ProviderAddressType? = nil)
    {
        self.authURL = authURL
        self.username = username
        self.projectName = projectName
        self.domainName = domainName
        self.region = region
        self.network = network
        self.floatingIPPool = floatingIPPool
        self.sshPort = sshPort
        self.addressType = addressType
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        authURL = try container.decodeText(.authURL) ?? ""
        username = try container.decodeText(.username) ?? ""
        projectName = try container.decodeText(.projectName) ?? ""
        domainName = try container.decodeText(.domainName)
        region = try container.decodeText(.region)
        network = try container.decodeText(.network)
        floatingIPPool = try container.decodeText(.floatingIPPool)
        sshPort = try container.decodeIfPresent(Int.self, forKey: .sshPort)
        addressType = try container.decodeIfPresent(ProviderAddressType.self, forKey: .addressType)
    }

    public func validate() throws {
        guard let url = URL(string: authURL), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw NumbatError.invalidField("auth_url", authURL.isEmpty ? "is required: Keystone's http(s) URL" : "must be Keystone's http(s) URL")
        }
        guard !username.isEmpty else { throw NumbatError.invalidField("username", "is required for an OpenStack provider") }
        guard !projectName.isEmpty else { throw NumbatError.invalidField("project_name", "is required for an OpenStack provider") }
        try validateSSHPort(sshPort)
    }

    public var configuration: ProviderConfiguration { .openstack(self) }

    enum CodingKeys: String, CodingKey {
        case username, region, network
        case authURL = "auth_url"
        case projectName = "project_name"
        case domainName = "domain_name"
        case floatingIPPool = "floating_ip_pool"
        case sshPort = "ssh_port"
        case addressType = "address_type"
    }
}
