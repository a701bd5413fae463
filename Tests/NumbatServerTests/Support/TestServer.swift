import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NumbatServer
import NumbatTestSupport

/// A Numbat server for one test: its own data directory (removed afterwards), a unique hidden
/// node name, fast reconnects, and the admin token it bootstrapped.
final class TestServer: Sendable {
    let server: NumbatServer
    let directory: URL
    let adminToken: String

    /// Starts a server on `directory` (a fresh temporary one if nil).
    init(directory: URL? = nil, host: String = "127.0.0.1", nodeName: String? = nil, metricsInterval: Double = 60,
         configure: (inout ServerConfiguration) -> Void = { _ in }) async throws {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-\(UUID().uuidString)")
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = 0
        configuration.dataDirectory = directory.path
        configuration.nodeName = nodeName ?? "numbat\(UInt32.random(in: 0...UInt32.max))"
        configuration.reconnectInitialSeconds = 0.2
        configuration.reconnectMaximumSeconds = 1
        configuration.logLevel = .warning
        configuration.metricsIntervalSeconds = metricsInterval
        configure(&configuration)
        server = try NumbatServer(configuration: configuration)
        self.directory = directory
        try await server.start()
        // The CPU load check off: the suite loads this 2-core machine (load averages of 10 are
        // usual), and its alarms would land in tests that count alarms and notifications.
        var thresholds = server.alarms.thresholds
        thresholds.cpuLoad = nil
        try await server.alarms.setThresholds(thresholds)
        adminToken = try String(contentsOf: directory.appendingPathComponent("admin-token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() async { await server.stop() }

    /// Stops the server and removes its data.
    func remove() async {
        await server.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` against a server that is removed afterwards, whatever happens. With a
    /// `directory`, the server runs on it and is only stopped: its data stays for the next one
    /// (a restart), and the caller removes the directory.
    static func with<T: Sendable>(_ mode: TestingSetup = .router, host: String = "127.0.0.1", metricsInterval: Double = 60,
                                  directory: URL? = nil, configure: (inout ServerConfiguration) -> Void = { _ in },
                                  _ body: @Sendable (TestServer, any TestClientProtocol) async throws -> T) async throws -> T
    {
        PoolWatchdog.start()
        let test = try await TestServer(directory: directory, host: host, metricsInterval: metricsInterval, configure: configure)
        let finish = { directory == nil ? await test.remove() : await test.stop() }
        do {
            let result = try await test.server.makeApplication().test(mode) { client in try await body(test, client) }
            await finish()
            return result
        } catch {
            await finish()
            throw error
        }
    }

    /// The server's name as managed nodes see it (long-name style).
    var hiddenNodeName: String { "\(server.configuration.nodeName)@127.0.0.1" }
}

/// A JSON answer.
struct JSONResponse: Sendable {
    let status: HTTPResponse.Status
    let text: String

    var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String? { (object["error"] as? [String: Any])?["message"] as? String }
    subscript(key: String) -> Any? { object[key] }
}

extension TestClientProtocol {
    /// Sends `body` (raw text) with `token` (the admin's unless told otherwise; nil for none).
    func call(_ method: HTTPRequest.Method, _ path: String, body: String? = nil, token: String?) async throws -> JSONResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            JSONResponse(status: response.status, text: String(buffer: response.body))
        }
    }
}

/// JSON text for a request body.
func json(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}
