import Foundation
import NumbatTestSupport
import Testing

/// `numbat metrics` as a first-day user meets it (issue 20): byte-valued metrics in human
/// units, exact numbers with `--json`, and an unknown metric name an error.
@Suite("numbat metrics: units and unknown names")
struct MetricsCLITests {
    @Test("tables show bytes as KiB/MiB/GiB, --json keeps exact numbers; an unknown metric exits non-zero naming it")
    func unitsAndUnknown() async throws {
        try await TestNode.with(release: .otp25, cookie: "metrics-cli-cookie") { peer in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-metrics-cli-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let server = try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directory.path, "--metrics-interval", "1",
                                                        "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))"])
            defer { server.kill() }
            let environment = ProcessInfo.processInfo.environment.merging(["NUMBAT_URL": server.url]) { $1 }
            func numbat(_ arguments: String...) async throws -> ChildProcess {
                try await ChildProcess.run(CLITests.numbat, arguments, environment: environment)
            }
            let node = peer.name.description
            #expect(try await numbat("node", "add", node, "--cookie", peer.cookie).status == 0)
            // A memory value in MiB: [0-9]+.[0-9] MiB, e.g. 14.3 MiB.
            let mebibytes = #"\d+\.\d (KiB|MiB|GiB)"#
            var history = try await numbat("metrics", "get", node, "memory_total", "--since", "10m")
            for _ in 0..<100 where !history.standardOutput.contains("TIME") {
                try await Task.sleep(for: .milliseconds(100))
                history = try await numbat("metrics", "get", node, "memory_total", "--since", "10m")
            }
            #expect(history.status == 0, "\(history.standardError)")
            let rows = history.standardOutput.components(separatedBy: "\n").filter { $0.hasPrefix("20") }
            #expect(!rows.isEmpty && rows.allSatisfy { $0.range(of: mebibytes + "$", options: .regularExpression) != nil }, "\(history.standardOutput)")
            #expect(history.standardOutput.range(of: "min " + mebibytes + "  max " + mebibytes, options: .regularExpression) != nil)

            let listed = try await numbat("metrics", "list", node)
            let memory = listed.standardOutput.components(separatedBy: "\n").first { $0.hasPrefix("memory_total ") } ?? ""
            #expect(memory.range(of: mebibytes + " +bytes$", options: .regularExpression) != nil, "\(memory)")
            let processes = listed.standardOutput.components(separatedBy: "\n").first { $0.hasPrefix("process_count ") } ?? ""
            #expect(processes.range(of: #" \d+ +processes$"#, options: .regularExpression) != nil, "not scaled: \(processes)")

            // --json: the server's exact byte counts.
            let json = try await numbat("metrics", "get", node, "memory_total", "--since", "10m", "--json")
            let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
            let values = ((object?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]] ?? []).compactMap { $0["v"] as? Double }
            #expect(!values.isEmpty && values.allSatisfy { $0 > 1_000_000 && $0 == $0.rounded() }, "\(values)")

            // A typo is an error naming the metric, not "0 points".
            let unknown = try await numbat("metrics", "get", node, "no_such_metric")
            #expect(unknown.status != 0)
            #expect(unknown.standardError.contains("no_such_metric") && unknown.standardOutput.isEmpty, "\(unknown.standardError) \(unknown.standardOutput)")
            #expect(try await server.terminate() == 0)
        }
    }
}
