import Foundation

/// A Keystone token and the service catalog that came with it. The token is taken with the
/// password method scoped to one project (v3), or with password credentials and a tenant
/// (v2.0, when the auth URL's path says `/v2.0`: the seed's HP Cloud and Rackspace), renewed a
/// minute before it expires and once more when a service answers 401 (a token revoked early),
/// so callers never handle tokens themselves.
public actor KeystoneSession {
    public struct Credentials: Sendable {
        /// Keystone's URL, with or without the `/v3` suffix; with `/v2.0` (or `/v2.0/tokens`) in
        /// its path, Keystone v2.0.
        public var authURL: URL
        public var username: String
        public var password: String
        public var projectName: String
        /// The domain of the user and of the project (`Default` on most clouds).
        public var domainName: String
        /// The catalog's region to use; nil takes the first endpoint of each service.
        public var region: String?

        public init(authURL: URL, username: String, password: String, projectName: String, domainName: String = "Default", region: String? = nil) {
            self.authURL = authURL
            self.username = username
            self.password = password
            self.projectName = projectName
            self.domainName = domainName
            self.region = region
        }
    }

    struct Token {
        var value: String
        var expires: Date
        /// Service type (`compute`, `network`, `image`) to its public endpoint.
        var endpoints: [String: URL]
    }

    public let credentials: Credentials
    private let http: ProviderHTTP
    private var token: Token?

    public init(credentials: Credentials, http: ProviderHTTP = ProviderHTTP()) {
        self.credentials = credentials
        self.http = http
    }

    /// Sends a request to a service of the catalog with the token: JSON in, the raw answer out.
    public func request(_ method: String, service: String, path: String, body: Data? = nil) async throws -> ProviderHTTP.Response {
        var renewed = false
        while true {
            let token = try await current()
            guard let base = token.endpoints[service] else {
                throw ProviderError("the OpenStack catalog has no public \(service) endpoint\(credentials.region.map { " in region \($0)" } ?? "")", code: "no_endpoint")
            }
            guard let url = URL(string: base.absoluteString.trimmingSuffix("/") + path) else {
                throw ProviderError("\(path) does not make a URL with \(base)", code: "bad_request")
            }
            var headers = [("X-Auth-Token", token.value), ("Accept", "application/json")]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            let response = try await http.send(method, url, headers: headers, body: body)
            if response.status == 401, !renewed {
                self.token = nil
                renewed = true
                continue
            }
            return response
        }
    }

    private func current() async throws -> Token {
        if let token, token.expires.timeIntervalSinceNow > 60 { return token }
        let fresh = try await authenticate()
        token = fresh
        return fresh
    }

    private func authenticate() async throws -> Token {
        if credentials.authURL.path.contains("/v2.0") { return try await authenticateV2() }
        var base = credentials.authURL.absoluteString.trimmingSuffix("/")
        if !base.hasSuffix("/v3") { base += "/v3" }
        let domain = ["name": credentials.domainName]
        let body: [String: Any] = ["auth": [
            "identity": ["methods": ["password"], "password": ["user": ["name": credentials.username, "domain": domain, "password": credentials.password]]],
            "scope": ["project": ["name": credentials.projectName, "domain": domain]],
        ]]
        let response = try await http.send("POST", URL(string: base + "/auth/tokens")!, headers: [("Content-Type", "application/json")],
                                           body: try JSONSerialization.data(withJSONObject: body))
        guard response.status == 201 || response.status == 200 else {
            // Keystone's error never names the password; neither do we.
            let message = (((try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any])?["error"] as? [String: Any])?["message"] as? String
            throw ProviderError("Keystone refused \(credentials.username) in project \(credentials.projectName): HTTP \(response.status)\(message.map { " \($0)" } ?? "")",
                                code: response.status == 401 ? "unauthorized" : "keystone_failed")
        }
        guard let value = response.header("X-Subject-Token"),
              let token = ((try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any])?["token"] as? [String: Any] else {
            throw ProviderError("Keystone answered without a token", code: "keystone_failed")
        }
        let expires = (token["expires_at"] as? String).flatMap(Self.parseDate) ?? Date().addingTimeInterval(3600)
        var endpoints: [String: URL] = [:]
        for service in token["catalog"] as? [[String: Any]] ?? [] {
            guard let type = service["type"] as? String else { continue }
            let candidates = (service["endpoints"] as? [[String: Any]] ?? []).filter { endpoint in
                endpoint["interface"] as? String == "public"
                    && (credentials.region == nil || endpoint["region_id"] as? String == credentials.region || endpoint["region"] as? String == credentials.region)
            }
            if let url = (candidates.first?["url"] as? String).flatMap(URL.init(string:)) { endpoints[type] = url }
        }
        return Token(value: value, expires: expires, endpoints: endpoints)
    }

    /// Keystone v2.0: `POST .../v2.0/tokens` with password credentials (and the tenant, when
    /// given; Rackspace scopes without one); the token and catalog come in `access`.
    private func authenticateV2() async throws -> Token {
        var base = credentials.authURL.absoluteString.trimmingSuffix("/")
        if base.hasSuffix("/tokens") { base.removeLast("/tokens".count) }
        var auth: [String: Any] = ["passwordCredentials": ["username": credentials.username, "password": credentials.password]]
        if !credentials.projectName.isEmpty { auth["tenantName"] = credentials.projectName }
        let response = try await http.send("POST", URL(string: base + "/tokens")!, headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                                           body: try JSONSerialization.data(withJSONObject: ["auth": auth]))
        guard response.status == 200 || response.status == 203 else {
            let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any]
            let message = json?.values.compactMap { ($0 as? [String: Any])?["message"] as? String }.first
            throw ProviderError("Keystone v2.0 refused \(credentials.username)\(credentials.projectName.isEmpty ? "" : " in tenant \(credentials.projectName)"): HTTP \(response.status)\(message.map { " \($0)" } ?? "")",
                                code: response.status == 401 ? "unauthorized" : "keystone_failed")
        }
        guard let access = ((try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any])?["access"] as? [String: Any],
              let token = access["token"] as? [String: Any], let value = token["id"] as? String else {
            throw ProviderError("Keystone v2.0 answered without a token", code: "keystone_failed")
        }
        let expires = (token["expires"] as? String).flatMap(Self.parseDate) ?? Date().addingTimeInterval(3600)
        var endpoints: [String: URL] = [:]
        for service in access["serviceCatalog"] as? [[String: Any]] ?? [] {
            guard let type = service["type"] as? String else { continue }
            let candidates = (service["endpoints"] as? [[String: Any]] ?? []).filter { endpoint in
                credentials.region == nil || endpoint["region"] as? String == credentials.region
            }
            if let url = (candidates.first?["publicURL"] as? String).flatMap(URL.init(string:)) { endpoints[type] = url }
        }
        return Token(value: value, expires: expires, endpoints: endpoints)
    }

    /// Keystone's `2026-12-02T10:00:00.000000Z` (and the same without fractions).
    static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        // Microseconds are more fraction than ISO8601DateFormatter reads: keep milliseconds.
        if let dot = text.firstIndex(of: "."), text.hasSuffix("Z") {
            let fraction = text[text.index(after: dot)..<text.index(before: text.endIndex)].prefix(3)
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: text[..<dot] + "." + fraction + "Z")
        }
        return nil
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
