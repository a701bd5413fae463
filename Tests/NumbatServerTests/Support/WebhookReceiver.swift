import Crypto
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// A webhook receiver for alert tests: a real HTTP server (Hummingbird) on a loopback port that
/// may be stopped and started again on the same port (a receiver that is down, then back). It
/// checks each request the way a receiver of Numbat's alerts should: the HMAC-SHA256 signature
/// over the timestamp and the body, and a timestamp no older than five minutes (replays); a
/// request failing either is answered 401 and recorded as refused.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var path: String
        var headers: [String: String]
        var body: Data
        var signed: Bool
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    let key: String?
    var port: Int { http.port }
    private let http: LoopbackHTTPServer
    private let received = NIOLockedValueBox<[Received]>([])

    init(key: String?, port: Int) {
        self.key = key
        http = LoopbackHTTPServer(port: port)
    }

    var requests: [Received] { received.withLockedValue { $0 } }
    var accepted: [Received] { requests.filter(\.signed) }

    /// Listens until `stop()`.
    func start() async throws {
        let router = Router()
        router.post("**") { request, context -> HTTPResponse.Status in
            let body = Data(try await request.body.collect(upTo: 1 << 22).readableBytesView)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let signed = self.verify(headers, body)
            self.received.withLockedValue { $0.append(Received(path: request.uri.path, headers: headers, body: body, signed: signed)) }
            return signed ? .ok : .unauthorized
        }
        await http.start(router, label: "webhook-receiver")
    }

    func stop() async {
        await http.stop()
    }

    /// Without a key (Alertmanager's notifications), everything is accepted.
    private func verify(_ headers: [String: String], _ body: Data) -> Bool {
        guard let key else { return true }
        guard let stamp = headers["x-numbat-timestamp"], let seconds = Int(stamp), abs(Date().timeIntervalSince1970 - Double(seconds)) < 300,
              let signature = headers["x-numbat-signature"] else { return false }
        var signed = Data("\(stamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(key.utf8)))
        return signature == "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}
