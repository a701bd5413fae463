import Foundation

/// Reading managed nodes: what every service gets. Writing them is the node manager's alone
/// (`NodeStore`), so a node's state has one owner.
public protocol NodeReader: Sendable {
    func node(id: UUID) async throws -> ManagedNode?
    func node(named name: String) async throws -> ManagedNode?
    func nodes() async throws -> [ManagedNode]
}

/// Storage of managed nodes and their sealed credentials (cookie, TLS), and of families' TLS.
/// Only the node manager holds it; the invariant is checked by a test that greps the sources.
public protocol NodeStore: NodeReader {
    /// Stores a new node; throws `NumbatError` `node_exists` if a node of that name is managed.
    func insertNode(_ node: ManagedNode, credentials: NodeCredentials) async throws
    /// Updates everything but the credentials.
    func updateNode(_ node: ManagedNode) async throws
    /// The node's credentials, unsealed, for connecting.
    func credentials(forNode id: UUID) async throws -> NodeCredentials?
    /// Replaces the node's own TLS settings (nil: none); whether the node exists.
    func setTLS(_ tls: TLSCredentials?, forNode id: UUID) async throws -> Bool
    /// The nodes `ids` as stored now, each with its unsealed credentials, in one read (every
    /// node when `ids` is nil): what a server needs to take over thousands of nodes at once (its
    /// start, a failover) without two queries per node. Unknown ids are left out.
    func nodesWithCredentials(_ ids: [UUID]?) async throws -> [(node: ManagedNode, credentials: NodeCredentials)]
    /// Every family's TLS settings, unsealed: what nodes without their own connect with.
    func familiesTLS() async throws -> [UUID: TLSCredentials]
    /// Replaces a family's TLS settings (nil: none); whether the family exists.
    func setTLS(_ tls: TLSCredentials?, forFamily id: UUID) async throws -> Bool
    /// Whether a node was removed.
    func deleteNode(id: UUID) async throws -> Bool
}

/// Storage of node families.
public protocol FamilyStore: Sendable {
    func insertFamily(_ family: NodeFamily) async throws
    func family(id: UUID) async throws -> NodeFamily?
    func families() async throws -> [NodeFamily]
    /// The automatic family of `bootScript`, created in the same transaction if missing, so
    /// two nodes discovered at once never make two families.
    func automaticFamily(bootScript: String) async throws -> (family: NodeFamily, created: Bool)
    func deleteFamily(id: UUID) async throws -> Bool
}

/// Storage of API tokens (hashes only).
public protocol TokenStore: Sendable {
    func insertToken(_ token: APIToken, secretHash: Data) async throws
    func token(secretHash: Data) async throws -> APIToken?
    func tokens() async throws -> [APIToken]
    func deleteToken(id: UUID) async throws -> Bool
    func touchToken(id: UUID, at time: Date) async throws
}

/// Storage of notifications: appended in batches, read newest first by id, so reading the latest
/// N costs the same however many are stored.
public protocol NotificationStore: Sendable {
    /// Stores the notifications (ids are assigned) and returns them with their ids; then keeps
    /// only the newest `retain`.
    func appendNotifications(_ notifications: [NodeNotification], retain: Int) async throws -> [NodeNotification]
    func notifications(_ query: NotificationQuery) async throws -> [NodeNotification]
    func notificationCount() async throws -> Int
}

/// Storage of alarms and their history. Every operation is one transaction, so two sources
/// raising the same alarm at once still make one alarm.
public protocol AlarmStore: Sendable {
    /// Raises an alarm: a new one, or (same node and key, still active) the active one again.
    /// With `repeat` false (a source re-syncing what it already reported) an active alarm is left
    /// as it is and nil is returned.
    func raiseAlarm(_ raise: AlarmRaise, repeat: Bool) async throws -> AlarmChange?
    /// Clears the node's active alarm of that key, if there is one.
    func clearAlarm(nodeID: UUID, key: String, time: Date, reason: String) async throws -> AlarmChange?
    /// Throws `NumbatError` `alarm_not_found`, or `alarm_already_acknowledged`.
    func acknowledgeAlarm(id: Int64, by actor: String, comment: String, time: Date) async throws -> AlarmChange
    /// Throws `NumbatError` `alarm_not_found`.
    func commentAlarm(id: Int64, by actor: String, text: String, time: Date) async throws -> AlarmChange
    /// One alarm, with its history.
    func alarm(id: Int64) async throws -> Alarm?
    func alarms(_ query: AlarmQuery) async throws -> [Alarm]
    /// The node's alarms that are not cleared.
    func activeAlarms(nodeID: UUID) async throws -> [Alarm]
}

/// Small named settings (JSON values) that must survive a restart: alarm thresholds, a node's
/// notification level.
public protocol SettingStore: Sendable {
    func setting(_ key: String) async throws -> Data?
    /// Stores the value, or deletes the setting for nil.
    func setSetting(_ key: String, _ value: Data?) async throws
    /// Every setting whose key starts with `prefix`.
    func settings(prefix: String) async throws -> [String: Data]
}

/// The audit log of remote commands: appended, read newest first by id. Entries are never
/// edited or deleted through the API.
public protocol AuditStore: Sendable {
    /// Stores the entry and returns it with its id.
    func appendAudit(_ entry: AuditEntry) async throws -> AuditEntry
    /// Newest first; `before` is the cursor.
    func auditEntries(node: UUID?, before: Int64?, limit: Int) async throws -> [AuditEntry]
}

/// Trace sessions and the events they kept (`TraceSession`): a session is stored whole (its
/// node parts change as they end), its events appended in batches and read in pages by id.
public protocol TraceStore: Sendable {
    /// Inserts the session or replaces it (same id).
    func saveTraceSession(_ session: TraceSession) async throws
    func traceSession(id: UUID) async throws -> TraceSession?
    /// Newest first.
    func traceSessions(limit: Int) async throws -> [TraceSession]
    /// Stores the events and returns them with their ids (increasing, in the order given).
    func appendTraceEvents(_ events: [TraceEvent]) async throws -> [TraceEvent]
    /// The session's events oldest first, those with an id above `after` (the cursor).
    func traceEvents(session: UUID, after: Int64?, limit: Int) async throws -> [TraceEvent]
    /// Deletes the sessions (and their events) older than the newest `keep`; how many went.
    func pruneTraceSessions(keep: Int) async throws -> Int
}

/// Orchestration's records (providers, releases, family plans, domains, deployments) as JSON
/// documents keyed by kind and id, each with an optional parent and a sealed secret kept apart
/// from the document, so a record can be shown without ever touching its secret.
public protocol OrchestrationStore: Sendable {
    /// Inserts or replaces the document; the secret is kept.
    func putRecord(kind: String, id: UUID, parent: UUID?, body: Data) async throws
    func record(kind: String, id: UUID) async throws -> Data?
    /// The documents of `kind`, oldest first; only those under `parent` when given.
    func records(kind: String, parent: UUID?) async throws -> [Data]
    func setRecordSecret(kind: String, id: UUID, secret: String) async throws
    func recordSecret(kind: String, id: UUID) async throws -> String?
    func deleteRecord(kind: String, id: UUID) async throws -> Bool
}
