import Foundation

/// One remote command as the audit log keeps it: who ran what on which node, when, how it
/// ended and how long it took. Written before the answer goes back, so no call goes unrecorded.
public struct AuditEntry: Codable, Sendable, Equatable, Identifiable {
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        /// The call returned (whatever it returned).
        case ok
        /// The call raised, exited or could not run (`badrpc`).
        case error
        case timeout
    }

    public var id: Int64
    public var time: Date
    /// The token's name (`loopback` for a loopback caller without one).
    public var actor: String
    public var nodeID: UUID?
    public var nodeName: String
    /// What ran, in Erlang syntax: `lists:reverse([1,2,3])`, clipped.
    public var command: String
    public var outcome: Outcome
    /// The result or the error, in Erlang syntax, clipped.
    public var result: String
    public var durationMilliseconds: Double

    public init(id: Int64 = 0, time: Date, actor: String, nodeID: UUID?, nodeName: String, command: String,
                outcome: Outcome, result: String, durationMilliseconds: Double) {
        self.id = id
        self.time = time
        self.actor = actor
        self.nodeID = nodeID
        self.nodeName = nodeName
        self.command = command
        self.outcome = outcome
        self.result = result
        self.durationMilliseconds = durationMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case id, time, actor, command, outcome, result
        case nodeID = "node"
        case nodeName = "node_name"
        case durationMilliseconds = "duration_ms"
    }
}
