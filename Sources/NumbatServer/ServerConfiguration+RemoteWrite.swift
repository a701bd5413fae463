import Foundation
import NumbatServices

/// Remote-write receivers in the configuration: the file's `remote_write` list (a URL, or an
/// object with credentials and queue settings), `NUMBAT_REMOTE_WRITE` (URLs, comma-separated),
/// and `--remote-write URL` (repeatable). A later source's list replaces an earlier one's.
extension ServerConfiguration {
    /// One entry of `remote_write`, as written: `"http://vm:8428/api/v1/write"`, or
    /// `{"url": ..., "bearer_token_file": ..., "basic_auth": {"username": ..., "password_file": ...},
    /// "queue_capacity": 100000, "batch_size": 2000, "timeout_seconds": 30}`. Credentials may be
    /// given inline (`bearer_token`, `password`) or, better, in a file of their own.
    public struct RemoteWriteEntry: Codable, Sendable, Equatable {
        public struct BasicAuth: Codable, Sendable, Equatable {
            public var username: String
            public var password: String?
            public var passwordFile: String?

            public init(username: String, password: String? = nil, passwordFile: String? = nil) {
                self.username = username
                self.password = password
                self.passwordFile = passwordFile
            }

            enum CodingKeys: String, CodingKey, CaseIterable {
                case username, password
                case passwordFile = "password_file"
            }
        }

        public var url: String
        public var basicAuth: BasicAuth?
        public var bearerToken: String?
        public var bearerTokenFile: String?
        public var queueCapacity: Int?
        public var batchSize: Int?
        public var timeoutSeconds: Double?

        public init(url: String, basicAuth: BasicAuth? = nil, bearerToken: String? = nil, bearerTokenFile: String? = nil,
                    queueCapacity: Int? = nil, batchSize: Int? = nil, timeoutSeconds: Double? = nil)
        {
            self.url = url
            self.basicAuth = basicAuth
            self.bearerToken = bearerToken
            self.bearerTokenFile = bearerTokenFile
            self.queueCapacity = queueCapacity
            self.batchSize = batchSize
            self.timeoutSeconds = timeoutSeconds
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case url
            case basicAuth = "basic_auth"
            case bearerToken = "bearer_token"
            case bearerTokenFile = "bearer_token_file"
            case queueCapacity = "queue_capacity"
            case batchSize = "batch_size"
            case timeoutSeconds = "timeout_seconds"
        }

        /// A bare URL string, or the object; unknown keys are refused (a typo in
        /// `bearer_token_file` must not send without credentials).
        public init(from decoder: any Decoder) throws {
            if let url = try? decoder.singleValueContainer().decode(String.self) {
                self.init(url: url)
                return
            }
            let container = try decoder.container(keyedBy: AnyKey.self)
            let known = Set(CodingKeys.allCases.map(\.rawValue))
            if let unknown = container.allKeys.map(\.stringValue).first(where: { !known.contains($0) }) {
                throw DecodingError.dataCorruptedError(forKey: AnyKey(stringValue: unknown), in: container,
                                                       debugDescription: "remote_write: unknown setting \(unknown)")
            }
            let values = try decoder.container(keyedBy: CodingKeys.self)
            self.init(url: try values.decode(String.self, forKey: .url),
                      basicAuth: try values.decodeIfPresent(BasicAuth.self, forKey: .basicAuth),
                      bearerToken: try values.decodeIfPresent(String.self, forKey: .bearerToken),
                      bearerTokenFile: try values.decodeIfPresent(String.self, forKey: .bearerTokenFile),
                      queueCapacity: try values.decodeIfPresent(Int.self, forKey: .queueCapacity),
                      batchSize: try values.decodeIfPresent(Int.self, forKey: .batchSize),
                      timeoutSeconds: try values.decodeIfPresent(Double.self, forKey: .timeoutSeconds))
        }

        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        /// The receiver's settings, credentials read from their files now.
        public func settings() throws -> RemoteWriteSettings {
            let url: URL
            do { url = try RemoteWriteSettings.validatedURL(self.url) } catch { throw ConfigurationError("\(error)") }
            let shown = RemoteWriteSettings.displayed(self.url)
            var authentication = RemoteWriteSettings.Authentication.none
            let bearer = try Self.secret(inline: bearerToken, file: bearerTokenFile, what: "bearer token", for: shown)
            if let basicAuth {
                guard bearer == nil else { throw ConfigurationError("remote write \(shown): basic_auth or a bearer token, not both") }
                guard !basicAuth.username.isEmpty else { throw ConfigurationError("remote write \(shown): basic_auth needs a username") }
                let password = try Self.secret(inline: basicAuth.password, file: basicAuth.passwordFile, what: "password", for: shown) ?? ""
                authentication = .basic(username: basicAuth.username, password: RemoteWriteSecret(password))
            } else if let bearer {
                authentication = .bearer(RemoteWriteSecret(bearer))
            }
            var queue = RemoteWriteQueue.Settings()
            if let queueCapacity { queue.capacity = queueCapacity }
            if let batchSize { queue.batchSize = batchSize }
            if let problem = queue.problem { throw ConfigurationError("remote write \(shown): \(problem)") }
            var settings = RemoteWriteSettings(url: url, authentication: authentication, queue: queue)
            if let timeoutSeconds {
                guard (0.1...600).contains(timeoutSeconds) else { throw ConfigurationError("remote write \(shown): timeout_seconds must be between 0.1 and 600") }
                settings.timeout = .milliseconds(Int(timeoutSeconds * 1000))
            }
            return settings
        }

        /// A credential given inline or in a file (its content, the final newline removed).
        static func secret(inline: String?, file: String?, what: String, for url: String) throws -> String? {
            if inline != nil, file != nil { throw ConfigurationError("remote write \(url): the \(what) inline or in a file, not both") }
            guard let file else { return inline }
            do {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                return text.hasSuffix("\n") ? String(text.dropLast()) : text
            } catch {
                // The path is named, never the content.
                throw ConfigurationError("remote write \(url): cannot read the \(what) file \(file): \(error.localizedDescription)")
            }
        }
    }
}
