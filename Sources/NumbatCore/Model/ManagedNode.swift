import Foundation

/// An Erlang node that Numbat manages. Its cookie is kept apart, sealed (see `SecretBox`), and
/// never part of this value, so nothing that prints or serialises a node can leak it.
public struct ManagedNode: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    /// The Erlang node name, `alive@host`.
    public var name: String
    public var state: NodeState
    public var familyID: UUID?
    /// The host part of the name.
    public var host: String
    /// The fixed distribution port of a node that runs without EPMD (`-erl_epmd_port`,
    /// `ERL_DIST_PORT`); nil: the port is asked of EPMD on the node's host.
    public var port: Int?
    /// `erlang:system_info(otp_release)`, learnt on first connection.
    public var otpRelease: String?
    /// The boot script (`init:script_id/0`) as `Name Vsn`, which keys automatic families.
    public var bootScript: String?
    /// The node through which discovery found this one, if any.
    public var discoveredFrom: UUID?
    /// Why the node is DOWN or in ERROR, in words.
    public var lastError: String?
    public var addedAt: Date
    public var stateChangedAt: Date

    public init(id: UUID = UUID(), name: String, state: NodeState, familyID: UUID? = nil, host: String, port: Int? = nil,
                otpRelease: String? = nil, bootScript: String? = nil, discoveredFrom: UUID? = nil,
                lastError: String? = nil, addedAt: Date = Date(), stateChangedAt: Date = Date())
    {
        self.id = id
        self.name = name
        self.state = state
        self.familyID = familyID
        self.host = host
        self.port = port
        self.otpRelease = otpRelease
        self.bootScript = bootScript
        self.discoveredFrom = discoveredFrom
        self.lastError = lastError
        self.addedAt = addedAt
        self.stateChangedAt = stateChangedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, state, host, port
        case familyID = "family_id"
        case otpRelease = "otp_release"
        case bootScript = "boot_script"
        case discoveredFrom = "discovered_from"
        case lastError = "last_error"
        case addedAt = "added_at"
        case stateChangedAt = "state_changed_at"
    }
}
