import Foundation

/// A credential for a receiver: kept in memory only, never written out by Numbat. Its
/// description is a mask, so a settings value that reaches a log or an error shows no secret.
public struct RemoteWriteSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "********" }
    public var debugDescription: String { "********" }
}

/// One receiver of remote write (`numbat serve --remote-write URL`, or an entry of the
/// configuration file's `remote_write` list).
public struct RemoteWriteSettings: Sendable, Equatable, CustomStringConvertible {
    public enum Authentication: Sendable, Equatable {
        case none
        case basic(username: String, password: RemoteWriteSecret)
        case bearer(RemoteWriteSecret)

        /// How the API names it (the credentials themselves never leave the server).
        public var kind: String {
            switch self {
            case .none: "none"
            case .basic: "basic"
            case .bearer: "bearer"
            }
        }

        /// `text` (a receiver's answer) with the credentials masked: receivers echo them in
        /// errors (vmauth quotes a refused bearer token), and those errors reach the API and logs.
        func redact(_ text: String) -> String {
            var secrets: [String] = []
            switch self {
            case .none: break
            case .basic(_, let password): secrets = [password.value]
            case .bearer(let token): secrets = [token.value]
            }
            if let header { secrets.append(String(header.drop { $0 != " " }.dropFirst())) }
            var redacted = text
            for secret in secrets where !secret.isEmpty {
                redacted = redacted.replacingOccurrences(of: secret, with: "********")
            }
            return redacted
        }

        /// The `Authorization` header's value.
        var header: String? {
            switch self {
            case .none: nil
            case .basic(let username, let password): "Basic " + Data("\(username):\(password.value)".utf8).base64EncodedString()
            case .bearer(let token): "Bearer " + token.value
            }
        }
    }

    public var url: URL
    public var authentication: Authentication
    public var queue: RemoteWriteQueue.Settings
    /// Bound on one request.
    public var timeout: Duration

    public init(url: URL, authentication: Authentication = .none, queue: RemoteWriteQueue.Settings = .init(), timeout: Duration = .seconds(30)) {
        self.url = url
        self.authentication = authentication
        self.queue = queue
        self.timeout = timeout
    }

    /// Checks a receiver's URL: http or https, a host, no credentials in it (they would show in
    /// `ps`, logs and the status route; the configuration has fields for them).
    public static func validatedURL(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host?.isEmpty == false
        else {
            throw RemoteWriteSettingsError(description: "remote write URL \(displayed(text)) is not an http:// or https:// URL with a host")
        }
        guard url.user == nil, url.password == nil else {
            throw RemoteWriteSettingsError(description: "remote write URL \(displayed(text)) holds credentials; give them as basic_auth or bearer_token (a file) instead")
        }
        return url
    }

    /// A URL as Numbat shows it: scheme, host, port and path only (a query may hold a token).
    public static func displayed(_ text: String) -> String {
        guard var components = URLComponents(string: text) else { return "(not a URL)" }
        components.user = nil
        components.password = nil
        components.query = nil
        components.fragment = nil
        return components.string ?? "(not a URL)"
    }

    public var displayURL: String { Self.displayed(url.absoluteString) }

    public var description: String { "\(displayURL) (auth: \(authentication.kind))" }
}

public struct RemoteWriteSettingsError: Error, CustomStringConvertible {
    public let description: String
}
