import Foundation
import NumbatTestSupport
import Testing
@testable import NumbatServices

/// The streaming release check against archives GNU tar writes in each of its formats.
@Suite("release archives")
struct ReleaseArchiveTests {
    static let longPath = "lib/" + String(repeating: "deep_directory_name/", count: 8) + "ebin/numbat_long.app"

    static func archive(format: String) async throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-rel-\(UUID().uuidString)")
        let files = ["releases/1.2.0/demo.rel": "{release, {\"demo\", \"1.2.0\"}, {erts, \"13\"}, []}.",
                     "releases/1.2.0/start.boot": "boot", "releases/1.2.0/vm.args": "-name {{ node_name }}\n", longPath: "{application, x, []}."]
        for (path, text) in files {
            let file = directory.appendingPathComponent("content/" + path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        let output = directory.appendingPathComponent("release.tar.gz")
        let made = try await ChildProcess.run("/bin/tar", ["--format=\(format)", "-czf", output.path, "-C", directory.appendingPathComponent("content").path, "."])
        #expect(made.status == 0, "\(made.standardError)")
        return output
    }

    @Test("GNU long names and pax paths read; the template's content and the release's name come out", arguments: ["gnu", "pax"])
    func formats(format: String) async throws {
        let file = try await Self.archive(format: format)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let inspection = try ReleaseArchive.inspect(file: file, templates: ["releases/1.2.0/vm.args"])
        #expect(inspection.name == "demo" && inspection.version == "1.2.0" && !inspection.includesERTS)
        #expect(inspection.templates == ["releases/1.2.0/vm.args": "-name {{ node_name }}\n"])
        let data = try Data(contentsOf: file)
        #expect(inspection.size == data.count)
    }

    @Test("the per-node rendering replaces both placeholders, with or without spaces")
    func rendering() {
        #expect(NodeDeployment.render("-name {{ node_name }}\n-setcookie {{cookie}}\n", name: "a@b", cookie: "c") == "-name a@b\n-setcookie c\n")
    }
}
