import Foundation

/// A PostgreSQL database named by URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=MODE]`.
/// Its `description` leaves the password out, so the location can be logged and shown as it is.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// Whether the connection uses TLS (libpq's `sslmode` names; `verify-full` is `require`).
    public enum TLSMode: String, Sendable, Equatable {
        /// Plain TCP: loopback, or a network the operator trusts.
        case disable
        /// TLS when the server offers it (libpq's default).
        case prefer
        /// TLS or no connection, the server's certificate checked against the system's roots.
        case require
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String, tls: TLSMode = .prefer) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses the URL; errors never repeat the password.
    public init(parsing text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql"
        else {
            throw PostgresStoreError.invalidLocation("the store must be sqlite or postgres://USER@HOST[:PORT]/DB")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresStoreError.invalidLocation("the PostgreSQL URL names no host (postgres://USER@HOST[:PORT]/DB)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresStoreError.invalidLocation("the PostgreSQL URL names no user (postgres://USER@HOST[:PORT]/DB)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresStoreError.invalidLocation("the PostgreSQL URL names no database (postgres://USER@HOST[:PORT]/DB)")
        }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", "disable"): tls = .disable
            case ("sslmode", "allow"), ("sslmode", "prefer"): tls = .prefer
            case ("sslmode", "require"), ("sslmode", "verify-ca"), ("sslmode", "verify-full"): tls = .require
            default:
                throw PostgresStoreError.invalidLocation("unknown PostgreSQL URL parameter \(item.name)=\(item.value ?? ""); only sslmode is understood")
            }
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw PostgresStoreError.invalidLocation("the PostgreSQL port \(port) is out of range")
        }
        self.init(host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: components.port ?? 5432,
                  user: user, password: components.password, database: database, tls: tls)
    }

    /// The URL without its password.
    public var description: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = user
        components.host = host.contains(":") ? "[\(host)]" : host
        components.port = port
        components.path = "/" + database
        if tls != .prefer { components.queryItems = [URLQueryItem(name: "sslmode", value: tls.rawValue)] }
        return components.string ?? "postgres://\(user)@\(host):\(port)/\(database)"
    }
}
