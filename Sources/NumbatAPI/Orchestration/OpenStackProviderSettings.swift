import Foundation
import NumbatCore

/// OpenStack through Keystone (v3, or v2.0 when the URL says so: the seed's HP Cloud and
/// Rackspace), Nova and Neutron. The secret is the user's `password`. The seed's spellings are
/// equals: `tenant_name` for `project_name`, `service_region` for `region`, and the clouds `hp`
/// and `rackspace` as `type` (or `vprovider`).
public struct OpenStackProviderSettings: ProviderSettings {
    public static let kind = ProviderKindName.openstack
    public static let requestFields: Set<String> = [
        "auth_url", "username", "password", "project_name", "tenant_name", "domain_name", "region", "service_region", "network",
        "floating_ip_pool", "ssh_port", "address_type",
    ]
    public static let secretField = "password"
    public static let secretRequired = true
    /// The seed's OpenStack-based clouds.
    public static let clouds: Set<String> = ["hp", "rackspace"]
    /// Rackspace's identity service (Keystone v2.0), for a `rackspace` provider given no `auth_url`.
    public static let rackspaceAuthURL = "https://identity.api.rackspacecloud.com/v2.0/tokens"

    /// Keystone's URL; one with `/v2.0` in its path (`.../v2.0/tokens`) is Keystone v2.0.
    public var authURL: String
    /// `hp` or `rackspace` when created as the seed's cloud (answered as its `type`); nil: OpenStack.
    public var cloud: String?
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
                network: String? = nil, floatingIPPool: String? = nil, sshPort: Int? = nil, addressType: ProviderAddressType? = nil,
                cloud: String? = nil)
    {
        self.cloud = cloud
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
        let request = try decoder.container(keyedBy: AnyCodingKey.self)
        // Stored rows carry `cloud`; requests name it as their type (`hp`, or virtual + vprovider).
        let type = try request.decodeIfPresent(String.self, forKey: AnyCodingKey("type"))
        let named = type == "virtual" ? try request.decodeIfPresent(String.self, forKey: AnyCodingKey("vprovider")) : type
        cloud = try container.decodeText(.cloud) ?? named.flatMap { Self.clouds.contains($0) ? $0 : nil }
        authURL = try container.decodeText(.authURL) ?? (cloud == "rackspace" ? Self.rackspaceAuthURL : "")
        username = try container.decodeText(.username) ?? ""
        projectName = try container.decodeText(.projectName) ?? request.decodeText(AnyCodingKey("tenant_name")) ?? ""
        domainName = try container.decodeText(.domainName)
        region = try container.decodeText(.region) ?? request.decodeText(AnyCodingKey("service_region"))
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
        // Keystone v2.0 (Rackspace) scopes a token without a tenant; v3 needs the project.
        guard !projectName.isEmpty || isKeystoneV2 else {
            throw NumbatError.invalidField("project_name", "is required for an OpenStack provider (tenant_name in the seed's words)")
        }
        try validateSSHPort(sshPort)
    }

    public var configuration: ProviderConfiguration { .openstack(self) }

    public var seedOptions: [String: String] {
        var options: [String: String] = [:]
        if !projectName.isEmpty { options["tenant_name"] = projectName }
        if let region { options["service_region"] = region }
        return options
    }

    /// Whether `authURL` is Keystone v2.0's (`.../v2.0` or `.../v2.0/tokens`).
    public var isKeystoneV2: Bool { URL(string: authURL)?.path.contains("/v2.0") == true }

    enum CodingKeys: String, CodingKey {
        case username, region, network, cloud
        case authURL = "auth_url"
        case projectName = "project_name"
        case domainName = "domain_name"
        case floatingIPPool = "floating_ip_pool"
        case sshPort = "ssh_port"
        case addressType = "address_type"
    }
}
