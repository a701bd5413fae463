import ErlangTerm
import Foundation

/// The answers of a real OTP node that a simulated node gives back: recorded from a live node
/// (`numbat-sim record`, `ProfileRecorder`), so the terms Numbat decodes, stores and checks have
/// the real shapes and sizes. Stored as one Erlang term (`term_to_binary` of a map).
public struct SimulatorProfile: Sendable, Equatable {
    /// `erlang:system_info(otp_release)`.
    public var otpRelease: Term
    /// `init:script_id()`.
    public var scriptID: Term
    /// `numbat_metrics_agent:collect/1`: `{ok, {Metrics, Details}}`.
    public var collect: Term
    /// `numbat_alarm_agent:check/2`: `{ok, Facts}`.
    public var check: Term
    /// Where it was recorded (the node's name), for the record.
    public var recordedFrom: String

    public init(otpRelease: Term, scriptID: Term, collect: Term, check: Term, recordedFrom: String) {
        self.otpRelease = otpRelease
        self.scriptID = scriptID
        self.collect = collect
        self.check = check
        self.recordedFrom = recordedFrom
    }

    /// The profile as the file holds it.
    public var term: Term {
        .map([.atom("otp_release"): otpRelease, .atom("script_id"): scriptID, .atom("collect"): collect,
              .atom("check"): check, .atom("recorded_from"): .binary(Array(recordedFrom.utf8))])
    }

    public init(term: Term) throws(ProfileError) {
        guard let release = term[.atom("otp_release")], let script = term[.atom("script_id")],
              let collect = term[.atom("collect")], let check = term[.atom("check")]
        else { throw ProfileError("a profile is a map with otp_release, script_id, collect and check") }
        guard collect[element: 0] == .atom("ok"), check[element: 0] == .atom("ok") else {
            throw ProfileError("the recorded collect and check answers are not {ok, _}")
        }
        self.init(otpRelease: release, scriptID: script, collect: collect, check: check,
                  recordedFrom: term[.atom("recorded_from")]?.binaryValue.map { String(decoding: $0, as: UTF8.self) } ?? "unknown")
    }

    public init(contentsOf url: URL) throws {
        let bytes = try [UInt8](Data(contentsOf: url))
        do {
            try self.init(term: try Term(decoding: bytes))
        } catch let error as TermDecodingError {
            throw ProfileError("\(url.path) is not a profile: \(error)")
        }
    }

    public func write(to url: URL) throws {
        try Data(term.encoded()).write(to: url, options: .atomic)
    }

    /// The profile shipped with Numbat: recorded from an OTP 25 node started with `erl`'s
    /// defaults (`scripts/record-sim-profile.sh` makes it again).
    public static func bundled() throws -> SimulatorProfile {
        guard let url = Bundle.module.url(forResource: "otp25", withExtension: "profile") else {
            throw ProfileError("the bundled profile otp25.profile is missing from this build")
        }
        return try SimulatorProfile(contentsOf: url)
    }
}

public struct ProfileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
