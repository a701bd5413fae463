import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore

/// Carries events between the servers of a cluster (issue 13): a WebSocket client of any server
/// receives the events of all of them, each exactly once, in the order its server published them.
///
/// - Out: every event published on this server's bus (taken by `EventBus.tap`, so none is lost
///   to a full buffer or at shutdown) is appended to the shared log (`ClusterEventLog`: on
///   PostgreSQL a table plus NOTIFY), in batches, one batch at a time, tagged with this server's
///   id (`ClusterService.me.id`).
/// - In: told that another server appended events, it reads that server's new rows by id and
///   hands each to the bus's *watchers* only (`EventBus.present`): the WebSocket presents them;
///   no service acts on them (alarms, the node manager, notification storage did, on the server
///   where they happened), so nothing happens twice. Its own rows it never reads.
/// - `ClusterEventCursor` (pure) remembers, per origin, the last event presented: a signal
///   seen twice, or a catch-up after a reconnection overlapping what was presented, presents
///   nothing twice; a notification lost while disconnected is made up for by the catch-up.
///
/// Limits: an event that waits longer than the log keeps rows (`Settings.retention`) before a
/// listener reads it is lost to that listener; so are events beyond `Settings.maximumPending`
/// while the database is unreachable (counted in the log).
public final class ClusterEventRelay: NumbatService, Sendable {
    public struct Settings: Sendable {
        /// How long the log keeps an event: ample for a listener that reconnects.
        public var retention: TimeInterval = 300
        /// How often this server prunes the log (every server does; the deletes are idempotent).
        public var pruneInterval: Duration = .seconds(60)
        /// Events appended in one statement, at most.
        public var batchSize = 500
        /// Events kept while the database cannot be written; the oldest go first beyond it.
        public var maximumPending = 20_000
        /// How long `start` waits for listening to begin before going on without it.
        public var startTimeout: Duration = .seconds(15)
        public init() {}
    }

    public var name: String { "cluster-events" }
    /// This server: the origin of the events it appends.
    public let origin: UUID
    let log: any ClusterEventLog
    let bus: EventBus
    let logger: Logger
    let settings: Settings
    private let state = NIOLockedValueBox(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    private struct State {
        /// Events not yet appended, each with its sequence number.
        var pending: [(sequence: UInt64, event: NumbatEvent)] = []
        var nextSequence: UInt64 = 0
        var dropped = 0
        var stopping = false
        var tap: UInt64?
        var writer: Task<Void, Never>?
        var listener: Task<Void, Never>?
        /// Resumed when listening has begun for the first time (or `start` stopped waiting).
        var started: CheckedContinuation<Void, Never>?
        var isListening = false
    }

    public init(origin: UUID, log: any ClusterEventLog, bus: EventBus, logger: Logger, settings: Settings = Settings()) {
        self.origin = origin
        self.log = log
        self.bus = bus
        self.logger = logger
        self.settings = settings
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Taps the bus, starts the writer and the listener, and waits (at most
    /// `Settings.startTimeout`) until listening has begun: events the others publish once this
    /// server is up reach its WebSocket clients.
    public func start() async throws {
        let tap = bus.tap { [weak self] event in self?.enqueue(event) }
        let writer = Task { [weak self] () -> Void in await self?.write() }
        let listener = Task { [weak self] () -> Void in await self?.listen() }
        state.withLockedValue {
            $0.tap = tap
            $0.writer = writer
            $0.listener = listener
        }
        let timeout = Task { [weak self, settings] in
            guard (try? await Task.sleep(for: settings.startTimeout)) != nil, let self else { return }
            logger.warning("not yet listening for the other servers' events; going on, still trying")
            self.resumeStart()
        }
        await withCheckedContinuation { continuation in
            let listening = state.withLockedValue { state -> Bool in
                if state.isListening { return true }
                state.started = continuation
                return false
            }
            if listening { continuation.resume() }
        }
        timeout.cancel()
    }

    /// Stops taking events, appends what is pending (one attempt), then stops listening.
    public func stop() async {
        let (tap, writer, listener) = state.withLockedValue { state in
            state.stopping = true
            return (state.tap, state.writer, state.listener)
        }
        if let tap { bus.untap(tap) }
        wake.finish()
        await writer?.value
        listener?.cancel()
        await listener?.value
        resumeStart()
    }

    private func resumeStart() {
        let waiting = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.isListening = true
            defer { state.started = nil }
            return state.started
        }
        waiting?.resume()
    }

    // MARK: Out

    private func enqueue(_ event: NumbatEvent) {
        let dropped = state.withLockedValue { state -> Bool in
            guard !state.stopping else { return false }
            state.nextSequence += 1
            state.pending.append((state.nextSequence, event))
            guard state.pending.count > settings.maximumPending else { return false }
            state.pending.removeFirst(state.pending.count - settings.maximumPending)
            state.dropped += 1
            return state.dropped == 1 || state.dropped % 1000 == 0
        }
        if dropped { logger.error("the cluster event log cannot keep up; the other servers' clients miss events") }
        wake.yield()
    }

    private func write() async {
        var lastPrune = ContinuousClock.now
        for await _ in wakeups {
            await drain()
            if ContinuousClock.now - lastPrune >= settings.pruneInterval {
                lastPrune = ContinuousClock.now
                do {
                    try await log.pruneClusterEvents(olderThan: settings.retention)
                } catch {
                    logger.warning("cannot prune the cluster event log", metadata: ["error": "\(error)"])
                }
            }
        }
        // Stopping: what was published before the tap was removed still goes out.
        await drain()
    }

    /// Appends the pending events, a batch at a time, retrying while the database is away
    /// (once only when stopping).
    private func drain() async {
        var delay: Duration = .milliseconds(500)
        while true {
            let (batch, stopping) = state.withLockedValue { ($0.pending.prefix(settings.batchSize), $0.stopping) }
            guard let last = batch.last?.sequence else { return }
            // An event that cannot be encoded never will be: left out, not retried forever.
            let bodies = batch.compactMap { pending -> Data? in
                do {
                    return try Self.encode(pending.event)
                } catch {
                    logger.error("cannot encode an event for the other servers", metadata: ["topic": "\(pending.event.topic)", "error": "\(error)"])
                    return nil
                }
            }
            do {
                if !bodies.isEmpty { try await log.appendClusterEvents(bodies, origin: origin) }
                state.withLockedValue { $0.pending.removeAll { $0.sequence <= last } }
                delay = .milliseconds(500)
            } catch {
                logger.warning("cannot append to the cluster event log", metadata: ["error": "\(error)", "pending": "\(batch.count)"])
                if stopping { return }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    // MARK: In

    private func listen() async {
        var cursor = ClusterEventCursor(me: origin)
        var delay: Duration = .milliseconds(500)
        while !Task.isCancelled {
            do {
                for try await signal in log.clusterEventSignals() {
                    switch signal {
                    case .listening:
                        let heads = try await log.clusterEventHeads()
                        if cursor.isStarted {
                            for (origin, after) in cursor.behind(heads: heads) { try await read(origin, after: after, into: &cursor) }
                            cursor.forget(except: heads)
                            logger.info("listening for the other servers' events again")
                        } else {
                            cursor.start(heads: heads)
                            resumeStart()
                        }
                        delay = .milliseconds(500)
                    case .appended(let origin, let lastID):
                        if let after = cursor.readFrom(origin: origin, lastID: lastID) { try await read(origin, after: after, into: &cursor) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("listening for the other servers' events failed; trying again", metadata: ["error": "\(error)"])
            }
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            delay = min(delay * 2, .seconds(10))
        }
    }

    /// Reads `origin`'s events after `after`, page by page, presenting the new ones in order.
    private func read(_ origin: UUID, after: Int64, into cursor: inout ClusterEventCursor) async throws {
        var after = after
        while true {
            let records = try await log.clusterEvents(origin: origin, after: after, limit: settings.batchSize)
            for record in records where cursor.accept(origin: record.origin, id: record.id) {
                do {
                    bus.present(try Self.decode(record.body), from: record.origin)
                } catch {
                    // A newer server's kind of event: skipped, not fatal.
                    logger.debug("skipped an event of another server", metadata: ["origin": "\(origin)", "error": "\(error)"])
                }
            }
            guard records.count == settings.batchSize, let last = records.last?.id else { return }
            after = last
        }
    }

    // MARK: Encoding

    /// An event as stored in the log: its Codable form, JSON.
    public static func encode(_ event: NumbatEvent) throws -> Data {
        try JSONEncoder().encode(event)
    }

    public static func decode(_ body: Data) throws -> NumbatEvent {
        try JSONDecoder().decode(NumbatEvent.self, from: body)
    }
}

/// Which events of the shared log a server has presented (pure; `ClusterEventRelay` drives it).
/// Per origin, the id of the last event presented: ids grow per origin in publication order,
/// so "after that id" is exactly what is new, whatever order signals arrive in and however
/// often. This server's own events are never presented again.
public struct ClusterEventCursor: Sendable, Equatable {
    public let me: UUID
    /// The last event presented (or skipped as history at the start), per origin. An origin
    /// not here is one that had no events at the start: all of its events are new.
    public private(set) var positions: [UUID: Int64] = [:]
    public private(set) var isStarted = false

    public init(me: UUID) {
        self.me = me
    }

    /// Listening has begun for the first time: what the log holds already is history.
    public mutating func start(heads: [UUID: Int64]) {
        guard !isStarted else { return }
        positions = heads.filter { $0.key != me }
        isStarted = true
    }

    /// Where to read `origin`'s events from after it signalled `lastID`; nil when that is
    /// nothing new (this server's own events, or ones presented already).
    public func readFrom(origin: UUID, lastID: Int64) -> Int64? {
        guard isStarted, origin != me else { return nil }
        let position = positions[origin] ?? 0
        return lastID > position ? position : nil
    }

    /// After listening again: the origins whose newest event (`heads`) was not presented, and
    /// where to read each from.
    public func behind(heads: [UUID: Int64]) -> [(origin: UUID, after: Int64)] {
        heads.compactMap { origin, head in readFrom(origin: origin, lastID: head).map { (origin, $0) } }
            .sorted { $0.origin < $1.origin }
    }

    /// Whether to present an event read from the log, moving past it: never this server's own,
    /// never one at or before the origin's position (presented already).
    public mutating func accept(origin: UUID, id: Int64) -> Bool {
        guard isStarted, origin != me, id > positions[origin] ?? 0 else { return false }
        positions[origin] = id
        return true
    }

    /// Drops the positions of origins with no event left in the log (pruned: servers gone
    /// long ago). Their ids only grow, so one that appends again is read from the start.
    public mutating func forget(except heads: [UUID: Int64]) {
        positions = positions.filter { heads[$0.key] != nil }
    }
}
