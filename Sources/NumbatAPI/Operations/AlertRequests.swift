import Foundation
import NumbatCore

/// `POST /api/alerts/rules` and `PUT /api/alerts/rules/{id}` (the whole rule): only `name` and
/// `receivers` are required.
public struct AlertRuleRequest: Codable, Sendable, Equatable {
    public var name: String
    public var enabled: Bool?
    public var minimumSeverity: Alarm.Severity?
    public var keys: [String]?
    public var nodes: [String]?
    public var families: [UUID]?
    public var events: [AlertRule.Event]?
    public var minimumDurationSeconds: Double?
    public var repeatIntervalSeconds: Double?
    public var receivers: [UUID]

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["name", "enabled", "minimum_severity", "keys", "nodes", "families", "events",
                                                    "minimum_duration_seconds", "repeat_interval_seconds", "receivers"]

    public init(name: String, enabled: Bool? = nil, minimumSeverity: Alarm.Severity? = nil, keys: [String]? = nil, nodes: [String]? = nil,
                families: [UUID]? = nil, events: [AlertRule.Event]? = nil, minimumDurationSeconds: Double? = nil,
                repeatIntervalSeconds: Double? = nil, receivers: [UUID]) {
        self.name = name
        self.enabled = enabled
        self.minimumSeverity = minimumSeverity
        self.keys = keys
        self.nodes = nodes
        self.families = families
        self.events = events
        self.minimumDurationSeconds = minimumDurationSeconds
        self.repeatIntervalSeconds = repeatIntervalSeconds
        self.receivers = receivers
    }

    enum CodingKeys: String, CodingKey {
        case name, enabled, keys, nodes, families, events, receivers
        case minimumSeverity = "minimum_severity"
        case minimumDurationSeconds = "minimum_duration_seconds"
        case repeatIntervalSeconds = "repeat_interval_seconds"
    }
}

/// `POST /api/alerts/receivers` and `PUT /api/alerts/receivers/{id}`. `secret` is the webhook's
/// HMAC key or the SMTP password: write-only (answers show `********`); on PUT, absent keeps
/// the stored one.
public struct AlertReceiverRequest: Codable, Sendable, Equatable {
    public var name: String
    public var kind: AlertReceiver.Kind
    public var url: String?
    public var smtpHost: String?
    public var smtpPort: Int?
    public var smtpSecurity: AlertReceiver.SMTPSecurity?
    public var smtpCA: String?
    public var smtpUser: String?
    public var from: String?
    public var to: [String]?
    public var secret: String?

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["name", "kind", "url", "smtp_host", "smtp_port", "smtp_security", "smtp_ca", "smtp_user",
                                                    "from", "to", "secret"]

    public init(name: String, kind: AlertReceiver.Kind, url: String? = nil, smtpHost: String? = nil, smtpPort: Int? = nil,
                smtpSecurity: AlertReceiver.SMTPSecurity? = nil, smtpCA: String? = nil, smtpUser: String? = nil, from: String? = nil,
                to: [String]? = nil, secret: String? = nil) {
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
        self.secret = secret
    }

    enum CodingKeys: String, CodingKey {
        case name, kind, url, from, to, secret
        case smtpHost = "smtp_host"
        case smtpPort = "smtp_port"
        case smtpSecurity = "smtp_security"
        case smtpCA = "smtp_ca"
        case smtpUser = "smtp_user"
    }
}

/// A receiver as the API shows it: its settings and, in place of its secret, `********` when
/// one is set (null when not). The secret itself never leaves the server.
public struct AlertReceiverResponse: Codable, Sendable, Equatable {
    public static let mask = "********"
    public var receiver: AlertReceiver
    public var secret: String?

    public init(receiver: AlertReceiver, hasSecret: Bool) {
        self.receiver = receiver
        secret = hasSecret ? Self.mask : nil
    }

    enum CodingKeys: String, CodingKey { case secret }

    public init(from decoder: any Decoder) throws {
        receiver = try AlertReceiver(from: decoder)
        secret = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .secret)
    }

    public func encode(to encoder: any Encoder) throws {
        try receiver.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(secret, forKey: .secret)
    }
}

/// `GET /api/alerts/rules`.
public struct AlertRuleListResponse: Codable, Sendable, Equatable {
    public var rules: [AlertRule]
    public init(rules: [AlertRule]) { self.rules = rules }
}

/// `GET /api/alerts/receivers`.
public struct AlertReceiverListResponse: Codable, Sendable, Equatable {
    public var receivers: [AlertReceiverResponse]
    public init(receivers: [AlertReceiverResponse]) { self.receivers = receivers }
}

/// `GET /api/alerts/deliveries`: newest first, every attempt's outcome.
public struct AlertDeliveryListResponse: Codable, Sendable, Equatable {
    public var deliveries: [AlertDelivery]
    public init(deliveries: [AlertDelivery]) { self.deliveries = deliveries }
}
