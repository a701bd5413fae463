import Foundation
import NumbatCore

/// One inbound firewall rule of a family (seed listing 9). `POST .../firewall` takes a JSON
/// list of them, ports as numbers or, as the seed writes them, strings; answers have numbers.
public struct FirewallRuleBody: Codable, Sendable, Hashable {
    /// `tcp`, `udp` or `icmp`.
    public var ipProtocol: String
    public var portFrom: Int
    public var portTo: Int
    /// Where traffic may come from, as a CIDR block.
    public var source: String

    public static let allowedFields: Set<String> = ["protocol", "port_from", "port_to", "source"]

    public init(ipProtocol: String, portFrom: Int, portTo: Int, source: String = "0.0.0.0/0") {
        self.ipProtocol = ipProtocol
        self.portFrom = portFrom
        self.portTo = portTo
        self.source = source
    }

    /// `protocol:from:to`, as `numbat family firewall` takes rules.
    public init(commandLine text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 3, let from = Int(parts[1]), let to = Int(parts[2]) else {
            throw NumbatError.badRequest("invalid_rule", "'\(text)' is not protocol:from:to")
        }
        self.init(ipProtocol: parts[0], portFrom: from, portTo: to)
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.allowedFields, of: "a firewall rule")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func port(_ key: CodingKeys) throws -> Int {
            if let number = try? container.decode(Int.self, forKey: key) { return number }
            guard let text = try container.decodeIfPresent(String.self, forKey: key) else { throw NumbatError.invalidField(key.stringValue, "is required: a port number") }
            guard let number = Int(text) else { throw NumbatError.invalidField(key.stringValue, "must be a port number, not '\(text.prefix(20))'") }
            return number
        }
        ipProtocol = try container.decodeIfPresent(String.self, forKey: .ipProtocol) ?? ""
        portFrom = try port(.portFrom)
        portTo = try port(.portTo)
        source = try container.decodeIfPresent(String.self, forKey: .source) ?? "0.0.0.0/0"
    }

    public func validate() throws {
        guard ["tcp", "udp", "icmp"].contains(ipProtocol) else { throw NumbatError.invalidField("protocol", "must be tcp, udp or icmp, not '\(ipProtocol.prefix(20))'") }
        guard (0...65535).contains(portFrom) else { throw NumbatError.invalidField("port_from", "must be 0-65535") }
        guard (portFrom...65535).contains(portTo) else { throw NumbatError.invalidField("port_to", "must be port_from to 65535") }
    }

    enum CodingKeys: String, CodingKey {
        case ipProtocol = "protocol"
        case portFrom = "port_from"
        case portTo = "port_to"
        case source
    }
}
