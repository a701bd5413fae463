import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension Requirement {
    /// Debian's prometheus-alertmanager, which alert routing sends alarms to (`AlertmanagerServer`).
    public static let alertmanager = Requirement("Debian's prometheus-alertmanager (scripts/install-test-deps.sh)") {
        FileManager.default.isExecutableFile(atPath: AlertmanagerServer.executable)
    }

    /// PyPI's aiosmtpd, the SMTP server alert emails are sent to (`SMTPTestServer`).
    public static let aiosmtpd = Requirement("PyPI's aiosmtpd (scripts/install-test-deps.sh)") { SMTPTestServer.isInstalled }
}

/// A real Prometheus Alertmanager for one test: its own configuration, storage and port on
/// loopback, no clustering; it notifies `webhook` (with resolved alerts) a second after a
/// change, grouping by alarm. Removed afterwards.
public final class AlertmanagerServer: Sendable {
    public static let executable = "/usr/bin/prometheus-alertmanager"
    public let url: URL
    let directory: URL
    let process: BackgroundProcess

    private init(webhook: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-am-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = try freePort(onAll: ["127.0.0.1"])
        url = URL(string: "http://127.0.0.1:\(port)")!
        try """
            route:
              receiver: hook
              group_by: [alarm_id]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: hook
                webhook_configs:
                  - url: \(webhook)
                    send_resolved: true
            """.write(to: directory.appendingPathComponent("am.yml"), atomically: true, encoding: .utf8)
        process = try BackgroundProcess(Self.executable, ["--config.file=\(directory.appendingPathComponent("am.yml").path)",
                                                          "--storage.path=\(directory.appendingPathComponent("data").path)",
                                                          "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address="])
    }

    public static func with<T>(webhook: String, _ body: (AlertmanagerServer) async throws -> T) async throws -> T {
        let server = try AlertmanagerServer(webhook: webhook)
        do {
            try await server.waitUntilReady()
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let (data, _) = try? await URLSession.shared.data(from: url.appendingPathComponent("-/ready")),
               String(decoding: data, as: UTF8.self).contains("OK") { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BackgroundProcessFailure(description: "Alertmanager did not get ready on \(url): \(process.output.suffix(2000))")
    }

    /// `GET /api/v2/alerts` (active, silenced, inhibited and unprocessed ones: Alertmanager
    /// leaves resolved alerts out), as JSON objects.
    public func alerts() async throws -> [[String: Any]] {
        let (data, _) = try await URLSession.shared.data(from: url.appendingPathComponent("api/v2/alerts"))
        return (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
    }

    /// What it printed (its log).
    public var output: String { String(process.output.suffix(3000)) }

    public func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A real SMTP server for one test: PyPI's aiosmtpd on loopback with STARTTLS required (the
/// given certificate) and AUTH required after it (one user; `mechanisms` offered), writing
/// each message it accepts, with what the session was (TLS, the user), as a JSON file.
public final class SMTPTestServer: Sendable {
    public static var isInstalled: Bool {
        (try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", "import aiosmtpd"]).status) == 0
    }

    public let port: Int
    let directory: URL
    let process: BackgroundProcess

    static let script = #"""
        import json, os, ssl, sys, threading
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        cert, key, port, user, password, out, offered = sys.argv[1:8]
        count = [0]

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                count[0] += 1
                login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
                record = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "data": envelope.content.decode("utf-8", "replace"),
                          "tls": session.ssl is not None, "user": login}
                path = os.path.join(out, "%04d.json" % count[0])
                with open(path + ".tmp", "w") as f:
                    json.dump(record, f)
                os.rename(path + ".tmp", path)
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        excluded = [m for m in ("PLAIN", "LOGIN") if m not in offered.split(",")]
        controller = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=context, require_starttls=True,
                                authenticator=authenticator, auth_require_tls=True, auth_exclude_mechanism=excluded)
        controller.start()
        print("listening", flush=True)
        threading.Event().wait()
        """#

    private init(certificate: String, key: String, user: String, password: String, mechanisms: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("messages"), withIntermediateDirectories: true)
        try Self.script.write(to: directory.appendingPathComponent("smtpd.py"), atomically: true, encoding: .utf8)
        port = try freePort(onAll: ["127.0.0.1"])
        process = try BackgroundProcess("/usr/bin/env", ["python3", directory.appendingPathComponent("smtpd.py").path, certificate, key, "\(port)",
                                                         user, password, directory.appendingPathComponent("messages").path,
                                                         mechanisms.joined(separator: ",")])
    }

    public static func with<T>(certificate: String, key: String, user: String, password: String, mechanisms: [String] = ["PLAIN", "LOGIN"],
                               _ body: (SMTPTestServer) async throws -> T) async throws -> T {
        let server = try SMTPTestServer(certificate: certificate, key: key, user: user, password: password, mechanisms: mechanisms)
        do {
            _ = try await server.process.line(startingWith: "listening", timeout: 60)
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    /// The messages accepted so far, oldest first.
    public func messages() throws -> [[String: Any]] {
        let folder = directory.appendingPathComponent("messages")
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted().compactMap {
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent($0))) as? [String: Any]
        }
    }

    public var output: String { process.output }

    public func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
