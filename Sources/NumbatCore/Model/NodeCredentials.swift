import Foundation

/// What Numbat needs besides a node's name to connect to it: the cookie, and for a node that runs
/// TLS distribution (`-proto_dist inet_tls`) the certificates. Stored sealed; never answered by
/// the API, never logged.
public struct NodeCredentials: Sendable, Equatable {
    public var cookie: String
    /// The node's own TLS settings; nil: its family's, if the family has some, else plain TCP.
    public var tls: TLSCredentials?

    public init(cookie: String, tls: TLSCredentials? = nil) {
        self.cookie = cookie
        self.tls = tls
    }
}

/// The PEM files for TLS distribution: the certificate (and any intermediates) and key Numbat
/// presents to the node, and the CA certificates the node's own certificate must chain to.
/// Set per node or per family; the store seals it whole, so the key never lies in plain text.
public struct TLSCredentials: Codable, Sendable, Hashable {
    public var certificate: String
    public var key: String
    public var ca: String

    public init(certificate: String, key: String, ca: String) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }

    /// The JSON the store seals.
    public func sealable() throws -> String {
        String(decoding: try JSONEncoder().encode(self), as: UTF8.self)
    }

    /// Back from what `sealable()` made, once unsealed.
    public init(unsealed text: String) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(text.utf8))
    }
}

extension SecretBox {
    /// `tls` sealed, or nil for none.
    public func seal(_ tls: TLSCredentials?) throws -> Data? {
        try tls.map { try seal($0.sealable()) }
    }

    /// The TLS settings sealed in `data`; nil for none.
    public func openTLS(_ data: Data?) throws -> TLSCredentials? {
        try data.map { try TLSCredentials(unsealed: open($0)) }
    }
}
