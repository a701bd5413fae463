import Foundation
import NumbatCore
import NumbatProviders

/// Sends one delivery to one receiver and says how it went; never throws, never logs the
/// secret. HTTP for webhooks and Alertmanager, `SMTPClient` for email.
struct AlertSender: Sendable {
    let timeout: Double

    func send(_ delivery: AlertDelivery, to receiver: AlertReceiver, secret: String?, now: Date = Date()) async -> AlertPlanner.Outcome {
        do {
            switch receiver.kind {
            case .webhook:
                guard let url = receiver.url.flatMap(URL.init(string:)) else { return .failed("the receiver has no URL", permanent: true) }
                let body = try AlertMessages.webhookBody(delivery)
                let headers = AlertMessages.webhookHeaders(delivery, body: body, timestamp: Int(now.timeIntervalSince1970), key: secret)
                let response = try await ProviderHTTP(timeout: timeout).send("POST", url, headers: headers, body: body)
                return AlertPlanner.outcome(httpStatus: response.status, body: response.text)
            case .alertmanager:
                guard let base = receiver.url, let url = URL(string: Self.trimmed(base) + "/api/v2/alerts") else {
                    return .failed("the receiver has no URL", permanent: true)
                }
                let body = try AlertMessages.alertmanagerBody(delivery.notice)
                let response = try await ProviderHTTP(timeout: timeout).send("POST", url, headers: [("Content-Type", "application/json")], body: body)
                return AlertPlanner.outcome(httpStatus: response.status, body: response.text)
            case .email:
                guard let host = receiver.smtpHost, let from = receiver.from, !receiver.to.isEmpty else {
                    return .failed("the receiver has no SMTP server, sender or recipient", permanent: true)
                }
                let message = AlertMessages.email(delivery, from: from, to: receiver.to, date: now)
                let client = SMTPClient(host: host, port: receiver.smtpPort ?? 587, security: receiver.smtpSecurity ?? .starttls,
                                        trustedCA: receiver.smtpCA, timeout: timeout)
                try await client.send(from: from, to: receiver.to, message: message,
                                      credentials: receiver.smtpUser.map { SMTPClient.Credentials(user: $0, password: secret ?? "") })
                return .delivered
            }
        } catch let error as SMTPClient.Failure {
            return .failed(error.description, permanent: error.permanent)
        } catch let error as ProviderError {
            return .failed(error.message, permanent: false)
        } catch {
            return .failed("\(error)", permanent: false)
        }
    }

    static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
