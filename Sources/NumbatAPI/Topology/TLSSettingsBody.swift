import Foundation
import NumbatCore

/// TLS distribution settings as the API takes them, the contents of three PEM files: `tls` of
/// `POST /api/actions/add-node`, and the body of `PUT /api/topo/nodes/{id}/tls` and
/// `PUT /api/topo/node_families/{id}/tls`. Write-only: no answer ever holds them.
public struct TLSSettingsBody: Codable, Sendable, Equatable {
    /// PEM: the certificate Numbat presents (then any intermediates).
    public var certificate: String
    /// PEM: its private key.
    public var key: String
    /// PEM: the CA certificates the node's certificate must chain to.
    public var ca: String

    public static let allowedFields: Set<String> = ["certificate", "key", "ca"]

    public init(certificate: String, key: String, ca: String) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }

    public init(_ credentials: TLSCredentials) {
        self.init(certificate: credentials.certificate, key: credentials.key, ca: credentials.ca)
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.allowedFields, of: "TLS settings")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func pem(_ key: CodingKeys, _ what: String) throws -> String {
            guard let text = try container.decodeText(key) else { throw NumbatError.invalidField(key.stringValue, "is required: \(what), in PEM") }
            return text
        }
        certificate = try pem(.certificate, "the certificate Numbat presents to the node")
        key = try pem(.key, "the certificate's private key")
        ca = try pem(.ca, "the CA certificates the node's certificate must chain to")
    }

    public var credentials: TLSCredentials { TLSCredentials(certificate: certificate, key: key, ca: ca) }
}
