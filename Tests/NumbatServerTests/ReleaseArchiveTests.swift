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

    /// The inspection refuses what `tar -xzf` on a host would fail on, and accepts what it
    /// reads, whatever the chunks: GNU tar itself judges each variant here. (ReleaseArchiveFuzz
    /// found a damaged CRC accepted when read in small chunks: reading stopped at the tar's end.)
    @Test("a damaged, truncated or over-long gzip stream is refused at every chunk size, as tar -xzf refuses it; zero padding and a second member are read")
    func gzipStreamChecked() async throws {
        let file = try await Self.archive(format: "gnu")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let intact = [UInt8](try Data(contentsOf: file))
        var badCRC = intact
        badCRC[badCRC.count - 6] ^= 0x55
        let variants: [(String, [UInt8], Bool)] = [
            ("intact", intact, true),
            ("a damaged CRC", badCRC, false),
            ("the last 4 bytes (length) cut", Array(intact.dropLast(4)), false),
            ("the trailer cut", Array(intact.dropLast(8)), false),
            ("other data after it", intact + Array("junk".utf8), false),
            ("a lone 0x1f after it", intact + [0x1f], false),
            ("1 KiB of zeros after it", intact + [UInt8](repeating: 0, count: 1024), true),
            ("zeros, then other data", intact + [0, 0, 7], false),
            ("a second member", intact + intact, true),
        ]
        for (what, bytes, readable) in variants {
            let path = file.deletingLastPathComponent().appendingPathComponent("variant.tar.gz")
            try Data(bytes).write(to: path)
            let listed = try await ChildProcess.run("/bin/tar", ["-tzf", path.path])
            #expect((listed.status == 0) == readable, "\(what): tar -tzf exits \(listed.status): \(listed.standardError)")
            for chunk in [1, 7, 511, 512, 4096, 65536] {
                var offset = 0
                let outcome = Result {
                    try ReleaseArchive.inspect(templates: ["releases/1.2.0/vm.args"]) {
                        let size = offset == 0 ? max(chunk, 2) : chunk
                        defer { offset = min(bytes.count, offset + size) }
                        return Data(bytes[offset..<min(bytes.count, offset + size)])
                    }
                }
                switch outcome {
                case .success(let inspection):
                    #expect(readable, "\(what), chunks of \(chunk): accepted")
                    #expect(inspection.name == "demo" && inspection.size == bytes.count)
                case .failure(let error):
                    #expect(!readable, "\(what), chunks of \(chunk): \(error)")
                }
            }
        }
        // The message says what is wrong.
        #expect(throws: ReleaseArchive.Failure.self) { try ReleaseArchive.inspect(templates: []) { Data() } }
        var once = false
        do {
            _ = try ReleaseArchive.inspect(templates: []) { defer { once = true }; return once ? Data() : Data(intact + Array("junk".utf8)) }
            Issue.record("accepted data after the gzip stream")
        } catch {
            #expect("\(error)".contains("goes on after its gzip stream"), "\(error)")
        }
    }

    @Test("the per-node rendering replaces both placeholders, with or without spaces")
    func rendering() {
        #expect(NodeDeployment.render("-name {{ node_name }}\n-setcookie {{cookie}}\n", name: "a@b", cookie: "c") == "-name a@b\n-setcookie c\n")
    }
}
