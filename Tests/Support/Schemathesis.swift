import Foundation

/// PyPI's schemathesis, which checks a running server against its OpenAPI document
/// (`APIDocumentTests`), run as `python3 -m schemathesis.cli` so that no pyenv shim is needed.
public enum Schemathesis {
    /// The release `scripts/install-test-deps.sh` pins: its options and checks change between
    /// releases, so another one is a missing peer, not a close enough one.
    public static let version = "4.32.5"

    public static let isInstalled: Bool = {
        let check = "import schemathesis, sys; sys.exit(schemathesis.__version__ != '\(version)')"
        return (try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", check]).status) == 0
    }()

    /// The settings both the CI run and the long run use: every check, the operations left out.
    public static var configuration: URL { PackagePaths.root.appendingPathComponent("scripts/schemathesis.toml") }

    /// `schemathesis run` with `arguments` after the document's URL.
    public static func run(document: String, _ arguments: [String]) async throws -> ChildProcess {
        try await ChildProcess.run("/usr/bin/env", ["python3", "-m", "schemathesis.cli", "--no-color", "--config-file", configuration.path,
                                                    "run", document] + arguments)
    }
}
