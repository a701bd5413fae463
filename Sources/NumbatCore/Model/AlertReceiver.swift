import Foundation

/// Where alerts go: a JSON webhook (HMAC-signed), a Prometheus Alertmanager (v2 API), or email
/// over SMTP. The secret (the webhook's HMAC key, the SMTP password) is never part of this
/// value: the store keeps it sealed apart, and answers only say whether one is set.
public struct AlertReceiver: Codable, Sendable, Equatable, Identifiable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case webhook, alertmanager, email
    }

    /// How an SMTP connection is secured: STARTTLS after the greeting (required: refused if the
    /// server does not offer it), or plain (loopback relays only).
    public enum SMTPSecurity: String, Codable, Sendable, CaseIterable {
        case starttls, none
    }

    public var id: UUID
    public var name: String
    public var kind: Kind
    /// The webhook's URL, or the Alertmanager's base URL (`http://am:9093`).
    public var url: String?
    /// SMTP: server, port, security, user (AUTH PLAIN, or LOGIN if that is all it offers),
    /// sender and recipients.
    public var smtpHost: String?
    public var smtpPort: Int?
    public var smtpSecurity: SMTPSecurity?
    /// PEM of the CA that signs the SMTP server's certificate; nil: the system's.
    public var smtpCA: String?
    public var smtpUser: String?
    public var from: String?
    public var to: [String]
    public var createdAt: Date

    public init(id: UUID = UUID(), name: String, kind: Kind, url: String? = nil, smtpHost: String? = nil, smtpPort: Int? = nil,
                smtpSecurity: SMTPSecurity? = nil, smtpCA: String? = nil, smtpUser: String? = nil, from: String? = nil, to: [String] = [],
                createdAt: Date = Date()) {
        self.id = id
        self.name = name
        self.kind = kind
        self.url = url
        self.smtpHost = smtpHost
        self.smtpPort = smtpPort
        self.smtpSecurity = smtpSecurity
        self.smtpCA = smtpCA
        self.smtpUser = smtpUser
        self.from = from
        self.to = to
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, kind, url, from, to
        case smtpHost = "smtp_host"
        case smtpPort = "smtp_port"
        case smtpSecurity = "smtp_security"
        case smtpCA = "smtp_ca"
        case smtpUser = "smtp_user"
        case createdAt = "created_at"
    }
}
