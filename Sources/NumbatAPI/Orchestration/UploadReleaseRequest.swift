import Foundation
import NumbatCore

/// `POST /api/orch/releases` (seed listing 8): the release's fields, as a JSON body with the
/// archive in base64 (`release`), or as query parameters beside a raw archive body.
public struct UploadReleaseRequest: Codable, Sendable, Equatable {
    public var name: String
    public var description: String?
    public var startCmd: String
    public var stopCmd: String
    public var cookie: String
    /// Paths in the archive whose `{{ node_name }}` (and `{{ cookie }}`) are replaced per node.
    public var nodeNameTemplates: [String]?
    public var environment: [String: String]?
    /// The archive in base64 (JSON uploads only).
    public var release: String?

    public static let allowedFields: Set<String> = ["name", "description", "start_cmd", "stop_cmd", "cookie", "node_name_templates", "environment", "release"]

    public init(name: String, description: String? = nil, startCmd: String, stopCmd: String, cookie: String,
                nodeNameTemplates: [String]? = nil, environment: [String: String]? = nil, release: String? = nil)
    {
        self.name = name
        self.description = description
        self.startCmd = startCmd
        self.stopCmd = stopCmd
        self.cookie = cookie
        self.nodeNameTemplates = nodeNameTemplates
        self.environment = environment
        self.release = release
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.allowedFields, of: "a release")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        startCmd = try container.decode(String.self, forKey: .startCmd)
        stopCmd = try container.decode(String.self, forKey: .stopCmd)
        cookie = try container.decode(String.self, forKey: .cookie)
        nodeNameTemplates = try container.decodeIfPresent([String].self, forKey: .nodeNameTemplates)
        environment = try container.decodeIfPresent([String: String].self, forKey: .environment)
        release = try container.decodeIfPresent(String.self, forKey: .release)
    }

    /// The fields of a raw upload, in the query: the same names, templates comma-separated
    /// (the environment needs a JSON upload).
    public var queryItems: [URLQueryItem] {
        [URLQueryItem(name: CodingKeys.name.rawValue, value: name), URLQueryItem(name: CodingKeys.startCmd.rawValue, value: startCmd),
         URLQueryItem(name: CodingKeys.stopCmd.rawValue, value: stopCmd), URLQueryItem(name: CodingKeys.cookie.rawValue, value: cookie)]
            + (nodeNameTemplates.map { [URLQueryItem(name: CodingKeys.nodeNameTemplates.rawValue, value: $0.joined(separator: ","))] } ?? [])
            + (description.map { [URLQueryItem(name: CodingKeys.description.rawValue, value: $0)] } ?? [])
    }

    /// The fields of a raw upload from its query (`field` reads one parameter, decoded).
    public init(query field: (String) -> String?) throws {
        guard let name = field(CodingKeys.name.rawValue), let start = field(CodingKeys.startCmd.rawValue),
              let stop = field(CodingKeys.stopCmd.rawValue), let cookie = field(CodingKeys.cookie.rawValue)
        else {
            throw NumbatError.badRequest("invalid_field", "a raw upload takes name, start_cmd, stop_cmd and cookie in the query")
        }
        self.init(name: name, description: field(CodingKeys.description.rawValue), startCmd: start, stopCmd: stop, cookie: cookie,
                  nodeNameTemplates: field(CodingKeys.nodeNameTemplates.rawValue).map { $0.split(separator: ",").map(String.init) })
    }

    enum CodingKeys: String, CodingKey {
        case name, description, cookie, environment, release
        case startCmd = "start_cmd"
        case stopCmd = "stop_cmd"
        case nodeNameTemplates = "node_name_templates"
    }
}
