import Foundation
import NumbatTestSupport
import Testing

/// `numbat alert` against `numbat serve`: a webhook receiver (its key from the environment,
/// masked from then on), a rule, a test alert to a real HTTP server, the delivery queue, and
/// the refusals (a receiver in use, a webhook without its key).
@Suite("numbat alert: receivers, rules, test, deliveries")
struct AlertCLITests {
    /// A real HTTP server that answers 200 to every POST and prints each request's headers.
    static let receiverScript = """
        import http.server, sys
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                print("POST", self.path, self.headers.get("X-Numbat-Signature", "-"), flush=True)
                self.send_response(200)
                self.end_headers()
            def log_message(self, *args):
                pass
        server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
        print("listening", flush=True)
        server.serve_forever()
        """

    @Test("receiver add (key from the environment, masked), rule add, list, test, deliveries; remove refused while in use, then done; a webhook without a key refused")
    func alertCommands() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-alert-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try freePort(onAll: ["127.0.0.1"])
        let receiver = try BackgroundProcess("/usr/bin/env", ["python3", "-c", Self.receiverScript, "\(port)"])
        _ = try await receiver.line(startingWith: "listening", timeout: 30)
        let server: ServerProcess
        do {
            server = try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directory.path, "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))"])
        } catch {
            await receiver.stop()
            throw error
        }
        defer { server.kill() }
        let key = "cli-key-\(UUID().uuidString)"
        let environment = ProcessInfo.processInfo.environment.merging(["NUMBAT_URL": server.url, "HOOK_KEY": key]) { $1 }
        func numbat(_ arguments: String...) async throws -> ChildProcess {
            try await ChildProcess.run(CLITests.numbat, arguments, environment: environment)
        }
        do {
            let added = try await numbat("alert", "receiver", "add", "hook", "--kind", "webhook", "--url", "http://127.0.0.1:\(port)/hook", "--secret-env", "HOOK_KEY")
            #expect(added.status == 0 && added.standardOutput.hasPrefix("receiver hook: "), "\(added.standardOutput)\(added.standardError)")
            let receivers = try await numbat("alert", "receiver", "list")
            #expect(receivers.standardOutput.contains("hook") && receivers.standardOutput.contains("********") && !receivers.standardOutput.contains(key),
                    "\(receivers.standardOutput)")
            let json = try await numbat("alert", "receiver", "list", "--json")
            #expect(!json.standardOutput.contains(key) && json.standardOutput.contains("\"secret\""))

            let rule = try await numbat("alert", "rule", "add", "majors", "--receiver", "hook", "--severity", "major", "--key", "sasl:*",
                                        "--min-duration", "5", "--repeat", "60")
            #expect(rule.status == 0, "\(rule.standardError)")
            let rules = try await numbat("alert", "rule", "list")
            #expect(["majors", "major", "sasl:*", "5s", "60s"].allSatisfy(rules.standardOutput.contains), "\(rules.standardOutput)")

            let tested = try await numbat("alert", "test", "hook")
            #expect(tested.status == 0 && tested.standardOutput.hasPrefix("delivered"), "\(tested.standardOutput)\(tested.standardError)")
            let request = try await receiver.line(startingWith: "POST /hook sha256=", timeout: 30)
            #expect(request.count == "POST /hook sha256=".count + 64, "\(request)")
            let deliveries = try await numbat("alert", "deliveries")
            #expect(deliveries.standardOutput.contains("test") && deliveries.standardOutput.contains("delivered"), "\(deliveries.standardOutput)")

            let inUse = try await numbat("alert", "receiver", "remove", "hook")
            #expect(inUse.status != 0 && inUse.standardError.contains("majors"), "\(inUse.standardError)")
            #expect(try await numbat("alert", "rule", "remove", "majors").status == 0)
            #expect(try await numbat("alert", "receiver", "remove", "hook").status == 0)
            #expect(try await numbat("alert", "receiver", "list").standardOutput.contains("hook") == false)

            let keyless = try await numbat("alert", "receiver", "add", "bare", "--kind", "webhook", "--url", "http://127.0.0.1:\(port)/hook")
            #expect(keyless.status != 0 && keyless.standardError.contains("secret"), "\(keyless.standardError)")
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }
}
