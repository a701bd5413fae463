import Foundation
import NumbatTestSupport
import Testing

/// `numbat serve --remote-write` as an operator runs it: the flags, a password from a file, a
/// real VictoriaMetrics behind basic auth, `numbat metrics remote-write`, and the password in no
/// log line and no answer.
@Suite("numbat serve --remote-write")
struct RemoteWriteCLITests {
    @Test("a node's metrics reach VictoriaMetrics behind basic auth; numbat metrics remote-write shows the counters; the password shows nowhere",
          .requires(.victoriaMetrics))
    func serveWithRemoteWrite() async throws {
        let password = "pw-\(UUID().uuidString)"
        try await RemoteWriteReceiver.with(.victoriaMetrics, basicAuth: ("numbat", password)) { victoria in
            try await TestNode.with(release: .otp25, cookie: "remote-write-cli-cookie") { peer in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-remote-write-cli-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let passwordFile = directory.appendingPathComponent("password")
                try (password + "\n").write(to: passwordFile, atomically: true, encoding: .utf8)
                // Options for remote write without a URL are refused before anything starts.
                let refused = try await ChildProcess.run(CLITests.numbat, ["serve", "--remote-write-username", "numbat"])
                #expect(refused.status != 0 && refused.standardError.contains("--remote-write"), "\(refused.standardError)")

                let server = try await ServerProcess.start([
                    "serve", "--port", "0", "--data-dir", directory.appendingPathComponent("data").path, "--metrics-interval", "1",
                    "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))", "--log-level", "trace",
                    "--remote-write", victoria.writeURL, "--remote-write-username", "numbat",
                    "--remote-write-password-file", passwordFile.path, "--remote-write-queue-capacity", "50000",
                ])
                defer { server.kill() }
                let environment = ProcessInfo.processInfo.environment.merging(["NUMBAT_URL": server.url]) { $1 }
                func numbat(_ arguments: String...) async throws -> ChildProcess {
                    try await ChildProcess.run(CLITests.numbat, arguments, environment: environment)
                }
                #expect(try await numbat("node", "add", peer.name.description, "--cookie", peer.cookie).status == 0)
                let authorization = "Basic " + Data("numbat:\(password)".utf8).base64EncodedString()
                var series: [RemoteWriteReceiver.Series] = []
                for _ in 0..<600 where series.first?.samples.isEmpty ?? true {
                    series = try await victoria.rawSamples("erlang_memory_total_bytes{node=\"\(peer.name)\"}[10m]", authorization: authorization)
                    if series.first?.samples.isEmpty ?? true { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(series.first?.samples.allSatisfy { $0.value > 1_000_000 } == true, "\(series.map(\.samples.count))")

                let table = try await numbat("metrics", "remote-write")
                #expect(table.status == 0, "\(table.standardError)")
                let row = table.standardOutput.components(separatedBy: "\n").first { $0.hasPrefix(victoria.writeURL) } ?? ""
                #expect(row.contains(" basic ") && row.contains("/50000"), "\(table.standardOutput)")
                let json = try await numbat("metrics", "remote-write", "--json")
                let receivers = (try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])?["receivers"] as? [[String: Any]]
                #expect((receivers?.first?["sent_samples"] as? Int ?? 0) > 0, "\(json.standardOutput)")
                #expect(receivers?.first?["queue_capacity"] as? Int == 50000)
                #expect(try await server.terminate() == 0)
                for text in [server.output, table.standardOutput, json.standardOutput] {
                    #expect(!text.contains(password) && !text.contains(authorization.dropFirst(6)))
                }
            }
        }
    }
}
