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

/// The demo release in three versions for rolling upgrades, built in one rebar3 project so the
/// relup of 0.2.0 is made from the 0.1.0 release it upgrades:
/// - 0.1.0: the demo as it is;
/// - 0.2.0: `numbat_demo:version/0` added, with an appup (`load_module`) and `rebar3 relup`, so
///   it switches without a restart;
/// - 0.3.0: deliberately broken, no relup: its application's start fails, so the node never
///   comes UP on it.
public enum DemoUpgrades {
    public struct Archives: Sendable {
        public let v1: URL
        public let v2: URL
        public let v3: URL
    }

    private static let built = Task<Archives, Error> {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-demo-upgrades-\(getpid())")
        try? FileManager.default.removeItem(at: copy)
        atexit { try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("numbat-demo-upgrades-\(getpid())")) }
        try FileManager.default.copyItem(at: PackagePaths.root.appendingPathComponent("examples/numbat_demo"), to: copy)
        func rebar3(_ arguments: String) async throws {
            let result = try await ChildProcess.run("/bin/sh", ["-c", "cd \"$1\" && HOME=\"$1\" rebar3 \(arguments)", "sh", copy.path])
            guard result.status == 0 else { throw DemoRelease.Failure(description: "rebar3 \(arguments) failed: \(result.standardOutput) \(result.standardError)") }
        }
        func edit(_ path: String, _ change: (String) -> String) throws {
            let file = copy.appendingPathComponent(path)
            try change(try String(contentsOf: file, encoding: .utf8)).write(to: file, atomically: true, encoding: .utf8)
        }
        func bump(_ from: String, _ to: String) throws {
            for path in ["rebar.config", "src/numbat_demo.app.src"] {
                try edit(path) { $0.replacingOccurrences(of: "\"\(from)\"", with: "\"\(to)\"") }
            }
            // rebar3 recompiles by modification time, which an edit within the second of the
            // last build does not change: the compiled application goes, so every module is
            // compiled again (the releases under rel/, which the relup reads, stay).
            try FileManager.default.removeItem(at: copy.appendingPathComponent("_build/default/lib/numbat_demo"))
        }
        let rel = copy.appendingPathComponent("_build/default/rel/numbat_demo")
        try await rebar3("tar")
        // 0.2.0: a new function, loaded by the relup into the running node.
        try bump("0.1.0", "0.2.0")
        try edit("src/numbat_demo.erl") {
            $0.replacingOccurrences(of: "-export([start_link/0, join/1, peers/0]).", with: "-export([start_link/0, join/1, peers/0, version/0]).")
                + "\n%% Added in 0.2.0, loaded by the relup without a restart.\nversion() -> \"0.2.0\".\n"
        }
        try FileManager.default.createDirectory(at: copy.appendingPathComponent("ebin"), withIntermediateDirectories: true)
        try """
            {"0.2.0",
             [{"0.1.0", [{load_module, numbat_demo}]}],
             [{"0.1.0", [{load_module, numbat_demo}]}]}.

            """.write(to: copy.appendingPathComponent("ebin/numbat_demo.appup"), atomically: true, encoding: .utf8)
        try await rebar3("release")
        try await rebar3("relup -n numbat_demo -v 0.2.0 -u 0.1.0")
        try await rebar3("tar")
        // 0.3.0: broken on purpose, and no relup: the switch is a restart that never comes UP.
        try FileManager.default.removeItem(at: copy.appendingPathComponent("ebin/numbat_demo.appup"))
        try bump("0.2.0", "0.3.0")
        try edit("src/numbat_demo.erl") { $0.replacingOccurrences(of: "version() -> \"0.2.0\".", with: "version() -> \"0.3.0\".") }
        try edit("src/numbat_demo_app.erl") {
            $0.replacingOccurrences(of: "start(_Type, _Args) -> numbat_demo_sup:start_link().", with: "start(_Type, _Args) -> {error, deliberately_broken}.")
        }
        try await rebar3("tar")
        let archives = Archives(v1: rel.appendingPathComponent("numbat_demo-0.1.0.tar.gz"), v2: rel.appendingPathComponent("numbat_demo-0.2.0.tar.gz"),
                                v3: rel.appendingPathComponent("numbat_demo-0.3.0.tar.gz"))
        for archive in [archives.v1, archives.v2, archives.v3] where !FileManager.default.fileExists(atPath: archive.path) {
            throw DemoRelease.Failure(description: "rebar3 made no \(archive.lastPathComponent)")
        }
        return archives
    }

    public static func archives() async throws -> Archives { try await built.value }
}
