import Foundation
import NumbatServices
import NumbatTestSupport
import Testing

/// The agents Numbat ships are exactly what `scripts/build-agents.sh` makes of `agents/*.erl`
/// and the skeleton header they include, and each is one self-contained module.
@Suite("shipped agents")
struct AgentBuildTests {
    static let agents = PackagePaths.root.appendingPathComponent("agents")
    static let skeleton = "numbat_agent_skeleton.hrl"
    static let include = "-include(\"\(skeleton)\")."

    static func sources(in directory: URL = agents) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "erl" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func name(of source: URL) -> String { source.deletingPathExtension().lastPathComponent }

    /// Compiles `sources` as the build script does (the header is found beside them) into a
    /// fresh directory, hands each beam by module name to `body`, and removes the directory.
    static func compile(_ sources: [URL], _ body: ([String: [UInt8]]) throws -> Void) async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-agents-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: output) }
        let erlc = try await ChildProcess.run("/usr/bin/erlc", ["+deterministic", "-o", output.path] + sources.map(\.path))
        #expect(erlc.status == 0, "\(erlc.standardError)")
        var beams: [String: [UInt8]] = [:]
        for source in sources {
            beams[name(of: source)] = [UInt8](try Data(contentsOf: output.appendingPathComponent("\(name(of: source)).beam")))
        }
        try body(beams)
    }

    @Test("each shipped beam is the deterministic compilation of its source and the skeleton header")
    func beamsMatchSources() async throws {
        let sources = try Self.sources()
        #expect(!sources.isEmpty)
        #expect(FileManager.default.fileExists(atPath: Self.agents.appendingPathComponent(Self.skeleton).path))
        try await Self.compile(sources) { compiled in
            for (name, beam) in compiled {
                // A Bool, so a failure names the agent instead of printing both beams.
                let current = try beam == Agent.named(name).beam
                #expect(current, "\(name).beam is stale: run scripts/build-agents.sh")
            }
        }
    }

    /// A change to the header alone must show as stale beams, so the check above covers it.
    @Test("a change to the skeleton header makes the beams of the agents that include it stale, and only those")
    func headerChangeMakesBeamsStale() async throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-agent-sources-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.agents, to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        let header = copy.appendingPathComponent(Self.skeleton)
        let original = try String(contentsOf: header, encoding: .utf8)
        // An export before the header's own attributes, its function after its functions.
        try ("-export([numbat_skeleton_changed/0]).\n" + original + "\nnumbat_skeleton_changed() -> true.\n")
            .write(to: header, atomically: true, encoding: .utf8)
        let sources = try Self.sources(in: copy)
        let including = try Set(sources.filter { try String(contentsOf: $0, encoding: .utf8).contains(Self.include) }.map(Self.name))
        #expect(!including.isEmpty)
        try await Self.compile(sources) { compiled in
            for (name, beam) in compiled {
                let unchanged = try beam == Agent.named(name).beam
                if including.contains(name) {
                    #expect(!unchanged, "\(name) includes the header, yet its beam did not change with it")
                } else {
                    #expect(unchanged, "\(name) does not include the header, yet its beam changed with it")
                }
            }
        }
    }

    /// Every agent Numbat starts takes start/2, stop/0, the owner monitor and leaving from the
    /// header: none defines its own (they would drift apart again). The trace agent alone has
    /// its own: the skeleton's start/2 stops a running agent, which would end another caller's
    /// trace session, where a second start must answer {error, busy} (one session per node).
    @Test("the agents Numbat starts share the skeleton and define none of its functions themselves (the trace agent excepted)")
    func agentsShareTheSkeleton() throws {
        var including: [String] = []
        for source in try Self.sources() where Self.name(of: source) != "numbat_trace_agent" {
            let text = try String(contentsOf: source, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            for function in ["start(", "stop(", "leave(", "skeleton_"] {
                #expect(!lines.contains { $0.hasPrefix(function) }, "\(source.lastPathComponent) defines \(function)...: it belongs in \(Self.skeleton)")
            }
            if text.contains(Self.include) { including.append(Self.name(of: source)) }
        }
        #expect(including == ["numbat_alarm_agent", "numbat_command_agent", "numbat_log_agent", "numbat_metrics_agent"])
    }

    /// code:load_binary/3 loads one module: an agent that called into another Numbat module
    /// would fail on a node that was not given that module.
    @Test("each shipped beam loads alone and calls no other Numbat module", arguments: OTPRelease.installed)
    func beamsAreSelfContained(release: OTPRelease) async throws {
        let names = try Self.sources().map(Self.name)
        let directory = PackagePaths.root.appendingPathComponent("Sources/NumbatServices/Resources/agents").path
        let output = try await ErlangScript.run(release, """
            [begin
                 {ok, Bin} = file:read_file("\(directory)/" ++ atom_to_list(M) ++ ".beam"),
                 {ok, {M, [{imports, Imports}]}} = beam_lib:chunks(Bin, [imports]),
                 Loaded = element(1, code:load_binary(M, "numbat/" ++ atom_to_list(M) ++ ".beam", Bin)),
                 Numbat = lists:usort([I || {I, _, _} <- Imports, lists:prefix("numbat", atom_to_list(I))]),
                 io:format("~s ~s ~w~n", [M, Loaded, Numbat])
             end || M <- [\(names.joined(separator: ", "))]],
            halt().
            """)
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines == names.map { "\($0) module []" }, "\(output)")
    }
}
