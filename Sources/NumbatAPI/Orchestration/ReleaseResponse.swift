import Foundation

/// An uploaded release as the API shows it (seed listing 8): the cookie masked.
public struct ReleaseResponse: Codable, Sendable, Equatable {
    public var uuid: UUID
    public var name: String
    public var description: String
    /// `UPLOADED`.
    public var state: String
    /// Where the archive is, in the server's data directory.
    public var path: String
    public var templates: [String]
    public var environment: [String: String]
    public var startCmd: String
    public var stopCmd: String
    public var cookie = "********"
    /// The release's own name and version, read from the archive.
    public var release: String
    public var version: String
    public var includesERTS: Bool
    public var size: Int
    public var sha256: String

    public init(uuid: UUID, name: String, description: String, state: String, path: String, templates: [String], environment: [String: String],
                startCmd: String, stopCmd: String, release: String, version: String, includesERTS: Bool, size: Int, sha256: String)
    {
        self.uuid = uuid
        self.name = name
        self.description = description
        self.state = state
        self.path = path
        self.templates = templates
        self.environment = environment
        self.startCmd = startCmd
        self.stopCmd = stopCmd
        self.release = release
        self.version = version
        self.includesERTS = includesERTS
        self.size = size
        self.sha256 = sha256
    }

    enum CodingKeys: String, CodingKey {
        case uuid, name, description, state, path, templates, environment, cookie, release, version, size, sha256
        case startCmd = "start_cmd"
        case stopCmd = "stop_cmd"
        case includesERTS = "includes_erts"
    }
}
