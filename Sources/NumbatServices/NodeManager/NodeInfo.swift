import ErlangDist
import ErlangTerm

/// What Numbat learns about a node when it connects: its release and boot script.
public struct NodeInfo: Sendable, Equatable {
    public var otpRelease: String
    /// `init:script_id/0` as `Name Vsn`: the key of automatic node families.
    public var bootScript: String

    /// Asks `node` over rpc (two calls: bounded, read-only work on the node).
    static func fetch(from local: LocalNode, node: NodeName, timeout: Duration) async throws -> NodeInfo {
        let release = try await local.rpc(node, "erlang", "system_info", [.atom("otp_release")], timeout: timeout)
        let script = try await local.rpc(node, "init", "script_id", timeout: timeout)
        let parts = script.tupleElements ?? []
        let name = parts.first.flatMap(Self.text) ?? "unknown"
        let version = parts.count > 1 ? Self.text(parts[1]) ?? "" : ""
        return NodeInfo(otpRelease: Self.text(release) ?? release.erlangDescription,
                        bootScript: version.isEmpty ? name : "\(name) \(version)")
    }

    /// A charlist or binary as text.
    private static func text(_ term: Term) -> String? {
        if let string = term.stringValue { return string }
        if let bytes = term.binaryValue { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}
