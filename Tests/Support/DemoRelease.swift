import Foundation

/// The getting-started release (examples/numbat_demo), built once per test run with Debian's
/// rebar3 into a temporary copy, so the work tree gets no _build.
public enum DemoRelease {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    public static var isBuildable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/rebar3") }

    private static let built = Task<URL, Error> {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-demo-\(getpid())")
        try? FileManager.default.removeItem(at: copy)
        atexit { try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("numbat-demo-\(getpid())")) }
        try FileManager.default.copyItem(at: PackagePaths.root.appendingPathComponent("examples/numbat_demo"), to: copy)
        let result = try await ChildProcess.run("/bin/sh", ["-c", "cd \"$1\" && HOME=\"$1\" rebar3 tar", "sh", copy.path])
        let archive = copy.appendingPathComponent("_build/default/rel/numbat_demo/numbat_demo-0.1.0.tar.gz")
        guard result.status == 0, FileManager.default.fileExists(atPath: archive.path) else {
            throw Failure(description: "rebar3 tar failed: \(result.standardOutput) \(result.standardError)")
        }
        return archive
    }

    /// The release archive (`numbat_demo-0.1.0.tar.gz`).
    public static func archive() async throws -> Data {
        try Data(contentsOf: try await built.value)
    }

    /// Where the built archive is (in a temporary directory of its own).
    public static func archiveFile() async throws -> URL {
        try await built.value
    }
}
