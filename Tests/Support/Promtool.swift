import Foundation
import Testing

/// Prometheus's own linter, `promtool check metrics` (Debian's prometheus package), run on an
/// exposition: the tests hold every export Numbat makes to it.
public enum Promtool {
    /// The names Numbat exports exactly as prometheus.erl's VM collectors do, which promtool
    /// objects to (a gauge ending in `_count`): docs/metrics.md lists them as deliberate.
    public static let allowed = ["erlang_vm_process_count", "erlang_vm_port_count", "erlang_vm_atom_count"]

    /// What promtool says about `text`, one line per problem, and its exit status.
    public static func lint(_ text: String) async throws -> (problems: [String], status: Int32) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-promtool-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let lint = try await ChildProcess.run("/bin/sh", ["-c", "promtool check metrics < \"$0\"", file.path])
        let problems = (lint.standardOutput + lint.standardError).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        return (problems, lint.status)
    }

    /// Expects promtool to find nothing in an export of the built-ins (`text`) but the allowed
    /// names, each once: a missing complaint means promtool did not run or the names changed.
    public static func expectOnlyAllowedNames(in text: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let (problems, _) = try await lint(text)
        let unexpected = problems.filter { line in !allowed.contains { line.hasPrefix($0 + " ") } }
        #expect(unexpected.isEmpty, "promtool: \(unexpected)", sourceLocation: sourceLocation)
        #expect(problems.count == allowed.count, "promtool did not run or found other things: \(problems)", sourceLocation: sourceLocation)
    }
}
