import Foundation
import NumbatCore

/// Amazon EC2, or anything speaking its Query API at `endpoint` (moto_server, private clouds).
/// The secret is `secret_access_key`. The seed's spellings are equals: `username` for the access
/// key id, `password` for the secret.
public struct EC2ProviderSettings: ProviderSettings {
    public static let kind = ProviderKindName.ec2
    public static let requestFields: Set<String> = ["region", "endpoint", "access_key_id", "secret_access_key", "username", "password"]
    public static let secretField = "secret_access_key"
    public static let secretRequired = true

    public var region: String
    public var endpoint: String?
    public var accessKeyID: String

    public init(region: String = "us-east-1", endpoint: String? = nil, accessKeyID: String) {
        self.region = region
        self.endpoint = endpoint
        self.accessKeyID = accessKeyID
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        region = try container.decodeText(.region) ?? "us-east-1"
        endpoint = try container.decodeText(.endpoint)
        accessKeyID = try container.decodeText(.accessKeyID) ?? decoder.container(keyedBy: AnyCodingKey.self).decodeText(AnyCodingKey("username")) ?? ""
    }

    public var seedOptions: [String: String] { ["username": accessKeyID] }
    public static let seedSecretFields = ["password"]

    /// `secret_access_key`, or the seed's `password`.
    public static func secret(from decoder: any Decoder) throws -> String? {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        return try container.decodeText(AnyCodingKey(secretField)) ?? container.decodeText(AnyCodingKey("password"))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(region, forKey: .region)
        try container.encodeIfPresent(endpoint, forKey: .endpoint)
        try container.encode(accessKeyID, forKey: .accessKeyID)
    }

    public func validate() throws {
        guard !accessKeyID.isEmpty else { throw NumbatError.invalidField("access_key_id", "is required for an EC2 provider") }
        // The region names the endpoint's host: letters, digits and dashes only.
        guard region.count <= 64, region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw NumbatError.invalidField("region", "must be letters, digits and dashes (eu-west-1), not '\(region.prefix(64))'")
        }
        if let endpoint {
            guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw NumbatError.invalidField("endpoint", "must be an http(s) URL")
            }
        }
    }

    public var configuration: ProviderConfiguration { .ec2(self) }

    enum CodingKeys: String, CodingKey {
        case region, endpoint
        case accessKeyID = "access_key_id"
    }
}
