import Crypto
import Foundation
import NumbatAPI
import NumbatCore

/// What each kind of receiver is sent for a notice, built with no I/O: the webhook's signed
/// JSON body, Alertmanager's v2 alerts, the email. Tests check these directly.
public enum AlertMessages {
    /// One line for humans (Slack's `text`, the email's subject).
    public static func text(_ notice: AlertNotice) -> String {
        let alarm = notice.alarm
        let what: String
        switch notice.event {
        case .raised: what = "RAISED"
        case .repeated: what = "STILL RAISED"
        case .acknowledged: what = "ACKNOWLEDGED" + (alarm.acknowledgedBy.map { " by \($0)" } ?? "")
        case .cleared: what = "CLEARED"
        case .test: what = "TEST"
        }
        return "[\(what)] \(alarm.severity.rawValue) on \(alarm.nodeName): \(alarm.summary) (\(alarm.key))"
    }

    /// The webhook's body: the delivery id (the idempotency key), the event, a Slack-compatible
    /// `text`, and the alarm as `GET /api/alarms/{id}` shows it.
    public struct WebhookBody: Codable, Sendable, Equatable {
        public var id: String
        public var event: AlertNotice.Event
        public var time: Date
        public var text: String
        public var alarm: Alarm
        public var family: UUID?
        public var familyName: String?

        enum CodingKeys: String, CodingKey {
            case id, event, time, text, alarm, family
            case familyName = "family_name"
        }
    }

    public static func webhookBody(_ delivery: AlertDelivery) throws -> Data {
        let notice = delivery.notice
        return try APICoding.encoder().encode(WebhookBody(id: delivery.id, event: notice.event, time: notice.time, text: text(notice),
                                                          alarm: notice.alarm, family: notice.familyID, familyName: notice.familyName))
    }

    /// `X-Numbat-Signature`: `sha256=` and the hex HMAC-SHA256, under the receiver's key, of
    /// the timestamp (`X-Numbat-Timestamp`, Unix seconds), a dot and the body. The timestamp is
    /// signed with the body, so a receiver refusing old timestamps refuses replays.
    public static func signature(body: Data, timestamp: Int, key: String) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(key.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// The webhook's headers, signed at `timestamp`.
    public static func webhookHeaders(_ delivery: AlertDelivery, body: Data, timestamp: Int, key: String?) -> [(String, String)] {
        var headers = [("Content-Type", "application/json"), ("User-Agent", "numbat"), ("X-Numbat-Delivery", delivery.id),
                       ("Idempotency-Key", delivery.id), ("X-Numbat-Timestamp", "\(timestamp)")]
        if let key { headers.append(("X-Numbat-Signature", signature(body: body, timestamp: timestamp, key: key))) }
        return headers
    }

    /// One alert of Alertmanager's v2 API (`POST /api/v2/alerts` takes a list).
    public struct AlertmanagerAlert: Codable, Sendable, Equatable {
        public var labels: [String: String]
        public var annotations: [String: String]
        public var startsAt: Date
        public var endsAt: Date?
        public var generatorURL: String?
    }

    /// The alarm as an Alertmanager alert: labels name it (alertname `NumbatAlarm`, key, node,
    /// family, severity, source, id), so its raise, repeats and clear are one alert there; a
    /// clear is the alert resolved (`endsAt`, the time it cleared).
    public static func alertmanagerAlert(_ notice: AlertNotice) -> AlertmanagerAlert {
        let alarm = notice.alarm
        var labels = ["alertname": "NumbatAlarm", "alarm_key": alarm.key, "node": alarm.nodeName, "severity": alarm.severity.rawValue,
                      "source": alarm.source.rawValue, "alarm_id": "\(alarm.id)"]
        if let family = notice.familyName ?? notice.familyID?.uuidString { labels["family"] = family }
        var annotations = ["summary": alarm.summary, "description": text(notice)]
        if !alarm.details.isEmpty { annotations["details"] = String(alarm.details.prefix(4000)) }
        if let by = alarm.acknowledgedBy { annotations["acknowledged_by"] = by }
        let endsAt: Date?
        switch notice.event {
        case .cleared: endsAt = alarm.clearedAt ?? notice.time
        // A test alert resolves by itself a few minutes later.
        case .test: endsAt = notice.time.addingTimeInterval(300)
        default: endsAt = nil
        }
        return AlertmanagerAlert(labels: labels, annotations: annotations, startsAt: alarm.raisedAt, endsAt: endsAt, generatorURL: nil)
    }

    public static func alertmanagerBody(_ notice: AlertNotice) throws -> Data {
        try APICoding.encoder().encode([alertmanagerAlert(notice)])
    }

    /// The email: RFC 5322 headers (the delivery id in the Message-ID, so a mail system can
    /// drop a copy sent twice), a text body. Lines end in CRLF.
    public static func email(_ delivery: AlertDelivery, from: String, to: [String], date: Date) -> String {
        let notice = delivery.notice
        let alarm = notice.alarm
        var lines = ["From: \(from)", "To: \(to.joined(separator: ", "))", "Subject: Numbat: \(headerSafe(text(notice)))",
                     "Date: \(rfc5322(date))", "Message-ID: <\(delivery.id)@numbat>", "MIME-Version: 1.0",
                     "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "",
                     text(notice), "", "Alarm:    \(alarm.id) (\(alarm.key))", "Node:     \(alarm.nodeName)",
                     "Severity: \(alarm.severity.rawValue)", "State:    \(alarm.state.rawValue)", "Source:   \(alarm.source.rawValue)",
                     "Raised:   \(ISO8601DateFormatter().string(from: alarm.raisedAt))"]
        if let cleared = alarm.clearedAt { lines.append("Cleared:  \(ISO8601DateFormatter().string(from: cleared))") }
        if let by = alarm.acknowledgedBy { lines.append("Acknowledged by: \(by)") }
        if let family = notice.familyName { lines.append("Family:   \(family)") }
        if !alarm.details.isEmpty { lines += ["", String(alarm.details.prefix(8000))] }
        lines += ["", "Delivery: \(delivery.id)"]
        // A line of a single dot would end the message early: SMTP's dot-stuffing.
        return lines.flatMap { $0.components(separatedBy: "\n") }
            .map { $0.replacingOccurrences(of: "\r", with: "") }
            .map { $0.hasPrefix(".") ? "." + $0 : $0 }
            .joined(separator: "\r\n") + "\r\n"
    }

    static func headerSafe(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 }.prefix(200))
    }

    static func rfc5322(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
