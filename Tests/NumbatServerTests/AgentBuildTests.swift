import Foundation
import NumbatServices
import NumbatTestSupport
import Testing

/// The agents Numbat ships are exactly what `scripts/build-agents.sh` makes of `agents/*.erl`.
@Suite("shipped agents")
struct AgentBuildTests {
    @Test("each shipped beam is the deterministic compilation of its source")
    func beamsMatchSources() async throws {
        let sources = try FileManager.default.contentsOfDirectory(at: PackagePaths.root.appendingPathComponent("agents"), includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "erl" }
        #expect(!sources.isEmpty)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-agents-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: output) }
        let erlc = try await ChildProcess.run("/usr/bin/erlc", ["+deterministic", "-o", output.path] + sources.map(\.path))
        #expect(erlc.status == 0, "\(erlc.standardError)")
        for source in sources {
            let name = source.deletingPathExtension().lastPathComponent
            let compiled = try Data(contentsOf: output.appendingPathComponent("\(name).beam"))
            let shipped = try Agent.named(name).beam
            #expect([UInt8](compiled) == shipped, "\(name).beam is stale: run scripts/build-agents.sh")
        }
    }
}
