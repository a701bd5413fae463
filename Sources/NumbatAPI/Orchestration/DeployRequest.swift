import Foundation
import NumbatCore

/// `POST /api/orch/node_families/{id}/nodes` (seed listings 2 and 10): how many nodes, on which
/// provider's domain (none: spread over the family's domains), and whether to start them.
public struct DeployRequest: Codable, Sendable, Equatable {
    public var amount: Int
    public var provider: UUID?
    /// Unpack only when false.
    public var autostart: Bool

    public static let allowedFields: Set<String> = ["amount", "provider", "autostart"]

    public init(amount: Int, provider: UUID? = nil, autostart: Bool = true) {
        self.amount = amount
        self.provider = provider
        self.autostart = autostart
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.allowedFields, of: "a deployment")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let amount = try? container.decode(Int.self, forKey: .amount) else { throw NumbatError.invalidField("amount", "must be a number of nodes") }
        self.amount = amount
        provider = container.contains(.provider) ? try container.decodeID(.provider, "a provider id") : nil
        autostart = try container.decodeIfPresent(Bool.self, forKey: .autostart) ?? true
    }

    enum CodingKeys: String, CodingKey { case amount, provider, autostart }
}

/// The answer to a deployment: the new nodes' ids, at once (progress follows on the
/// `deployment` topic and `GET .../nodes`).
public struct DeployResponse: Codable, Sendable, Equatable {
    public var nodes: [UUID]

    public init(nodes: [UUID]) { self.nodes = nodes }
}
