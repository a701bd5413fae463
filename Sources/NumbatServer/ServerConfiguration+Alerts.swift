import Foundation
import NumbatServices

/// Alert delivery's timing in the configuration (docs/alerts.md, "Settings"): the file's
/// `alert_*` keys, `NUMBAT_ALERT_*` and `--alert-*` flags, each checked when applied so a typo
/// such as a zero lease stops the server at start instead of sending every alert twice.
extension ServerConfiguration {
    /// Applies the alert settings `overrides` sets, then checks them together.
    mutating func applyAlerts(_ overrides: Overrides) throws {
        func seconds(_ value: Double?, _ key: String, _ range: ClosedRange<Double>) throws -> Double? {
            guard let value else { return nil }
            guard range.contains(value) else {
                throw ConfigurationError("\(key) must be between \(Self.shown(range.lowerBound)) and \(Self.shown(range.upperBound)) seconds, not \(Self.shown(value))")
            }
            return value
        }
        if let value = try seconds(overrides.alertRetryInitialSeconds, "alert_retry_initial_seconds", 0.01...86400) {
            alerts.retry.initialSeconds = value
        }
        if let value = try seconds(overrides.alertRetryMaximumSeconds, "alert_retry_max_seconds", 0.01...86400) {
            alerts.retry.maximumSeconds = value
        }
        if let attempts = overrides.alertRetryMaximumAttempts {
            guard (1...1000).contains(attempts) else {
                throw ConfigurationError("alert_retry_max_attempts must be between 1 and 1000, not \(attempts)")
            }
            alerts.retry.maximumAttempts = attempts
        }
        if let value = try seconds(overrides.alertLeaseSeconds, "alert_lease_seconds", 1...86400) { alerts.leaseSeconds = value }
        if let value = try seconds(overrides.alertPollSeconds, "alert_poll_seconds", 0.01...3600) { alerts.pollSeconds = value }
        if let value = try seconds(overrides.alertSendTimeoutSeconds, "alert_send_timeout_seconds", 0.1...600) {
            alerts.sendTimeoutSeconds = value
        }
        guard alerts.retry.maximumSeconds >= alerts.retry.initialSeconds else {
            throw ConfigurationError("alert_retry_max_seconds (\(Self.shown(alerts.retry.maximumSeconds))) must be at least alert_retry_initial_seconds (\(Self.shown(alerts.retry.initialSeconds)))")
        }
        // A claim that expires while its send is still running lets another pass (or another
        // server) send the same alert again.
        guard alerts.leaseSeconds > alerts.sendTimeoutSeconds else {
            throw ConfigurationError("alert_lease_seconds (\(Self.shown(alerts.leaseSeconds))) must be longer than alert_send_timeout_seconds (\(Self.shown(alerts.sendTimeoutSeconds))): a claim must outlast a send")
        }
    }

    /// `2` rather than `2.0` in messages.
    private static func shown(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
