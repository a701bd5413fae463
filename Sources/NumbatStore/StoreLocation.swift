import Foundation
import Logging

/// Which store a server uses, from `--store` / `store` / `NUMBAT_STORE`.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// The embedded SQLite file in the data directory (the default).
    case embedded
    /// A PostgreSQL database shared by every server pointed at it.
    case postgres(PostgresLocation)

    /// `sqlite` (or an empty text) for the embedded store, a `postgres://` or `postgresql://` URL
    /// for PostgreSQL.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.lowercased() == "sqlite" {
            self = .embedded
        } else {
            self = .postgres(try PostgresLocation(parsing: trimmed))
        }
    }

    public var description: String {
        switch self {
        case .embedded: return "sqlite"
        case .postgres(let location): return location.description
        }
    }

    /// Opens the store. PostgreSQL is only connected to by `prepare()`, so this does no network I/O.
    public func open(directory: URL, logger: Logger) throws -> any NumbatStorage {
        switch self {
        case .embedded: return try SQLiteStore(directory: directory)
        case .postgres(let location): return try PostgresStore(location: location, directory: directory, logger: logger)
        }
    }
}
