import Foundation
import PostgresNIO

/// Why the PostgreSQL store could not be opened or used, in words an operator can act on.
/// postgres-nio's own errors print a generic text in release builds (to keep queries out of
/// logs), so the server's message or the network reason is taken out here.
public enum PostgresStoreError: Error, CustomStringConvertible, Equatable {
    /// The `--store` URL is not one.
    case invalidLocation(String)
    /// No connection: refused, timed out, name not found, authentication failed.
    case unreachable(location: String, reason: String)
    /// The database holds migrations this server does not know: a newer Numbat migrated it.
    case newerSchema(location: String, unknown: [String])
    /// The connection listening for the cluster's events ended or stopped answering.
    case listenEnded
    /// This server's key file is not the one the database's secrets are sealed with.
    case keyMismatch(location: String, keyFile: String)

    public var description: String {
        switch self {
        case .invalidLocation(let reason): return reason
        case .unreachable(let location, let reason): return "cannot use the PostgreSQL store \(location): \(reason)"
        case .newerSchema(let location, let unknown):
            return "the PostgreSQL store \(location) was migrated by a newer Numbat (\(unknown.joined(separator: ", "))); upgrade this server"
        case .listenEnded: return "the connection listening for the cluster's events ended or stopped answering"
        case .keyMismatch(let location, let keyFile):
            return "\(keyFile) is not the key the secrets of \(location) are sealed with: servers sharing a database need the same "
                + "key file; copy secret.key from a data directory of a server already using this database (mode 600)"
        }
    }

    /// The useful part of a postgres-nio or NIO error.
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let code = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + code
            }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }
}
