import Foundation
import Logging
import NumbatCore

/// Everything a Numbat server keeps, whichever database keeps it: the embedded SQLite store
/// (`SQLiteStore`, the default) and the shared PostgreSQL one (`PostgresStore`) both conform, and
/// the store conformance suite runs the same tests against both.
public protocol NumbatStorage: NodeStore, FamilyStore, TokenStore, NotificationStore, AlarmStore, SettingStore, AuditStore,
    OrchestrationStore, MetricBlockStore, AlertRoutingStore, TraceStore
{
    /// The data directory: the secret key file sits here whichever database holds the rows, and
    /// the server writes its first admin token here.
    var directory: URL { get }
    /// Where the rows live, safe to log (never a password).
    var storeDescription: String { get }
    /// Brings the schema up to date (or checks it is) and returns the migrations applied, oldest
    /// first. Called once before the server starts its services; a database that cannot be
    /// reached throws here, with the reason, rather than on a first request.
    func prepare() async throws -> [String]
    /// Flushes and closes the store; nothing may use it afterwards.
    func shutdown() async throws
}
