import Foundation
import GRDB
import NumbatCore
import NumbatStore
import NumbatTestSupport
import Testing
import Logging

/// The store suite: every store protocol function, run against the embedded SQLite store and
/// against a real PostgreSQL 15 (`PostgresServer`), with the same expectations for both.
@Suite("store conformance: SQLite and PostgreSQL")
struct StoreConformanceTests {
    // Whole seconds: exact in SQLite's text dates and PostgreSQL's microseconds alike.
    static let t0 = Date(timeIntervalSince1970: 1_760_000_000)

    static let tls = TLSCredentials(certificate: "-----BEGIN CERTIFICATE-----\nnumbat\n", key: "-----BEGIN PRIVATE KEY-----\nsecret-key\n", ca: "ca")

    @Test("nodes: round trip, unique names (node_exists), update keeps the credentials, delete", arguments: StoreBackend.allCases)
    func nodes(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let family = NodeFamily(name: "fam", kind: .deployment, createdAt: Self.t0)
            try await store.insertFamily(family)
            var node = ManagedNode(name: "b@127.0.0.1", state: .up, familyID: family.id, host: "127.0.0.1", otpRelease: "25",
                                   bootScript: "Erlang/OTP 25", addedAt: Self.t0, stateChangedAt: Self.t0)
            // A node without EPMD keeps its port.
            let other = ManagedNode(name: "a@127.0.0.1", state: .down, host: "127.0.0.1", port: 9100, addedAt: Self.t0, stateChangedAt: Self.t0)
            try await store.insertNode(node, credentials: NodeCredentials(cookie: "cookie-b", tls: Self.tls))
            try await store.insertNode(other, credentials: NodeCredentials(cookie: "cookie-a"))
            #expect(try await store.node(id: node.id) == node)
            #expect(try await store.node(named: "a@127.0.0.1") == other)
            #expect(try await store.node(named: "nobody@127.0.0.1") == nil)
            #expect(try await store.nodes().map(\.name) == ["a@127.0.0.1", "b@127.0.0.1"])
            let credentials = NodeCredentials(cookie: "cookie-b", tls: Self.tls)
            #expect(try await store.credentials(forNode: node.id) == credentials)
            #expect(try await store.credentials(forNode: other.id) == NodeCredentials(cookie: "cookie-a"))
            #expect(try await store.credentials(forNode: UUID()) == nil)
            // In one read, for a takeover: the nodes asked for (an unknown id left out), or all.
            let taken = try await store.nodesWithCredentials([node.id, UUID()])
            #expect(taken.map(\.node) == [node] && taken.map(\.credentials) == [credentials])
            let every = try await store.nodesWithCredentials(nil).sorted { $0.node.name < $1.node.name }
            #expect(every.map(\.node) == [other, node] && every.map(\.credentials.cookie) == ["cookie-a", "cookie-b"])
            #expect(try await store.nodesWithCredentials([]).isEmpty)

            let clash = ManagedNode(name: "b@127.0.0.1", state: .up, host: "127.0.0.1", addedAt: Self.t0, stateChangedAt: Self.t0)
            let error = await #expect(throws: NumbatError.self) { try await store.insertNode(clash, credentials: NodeCredentials(cookie: "x")) }
            #expect(error?.code == "node_exists")

            node.state = .down
            node.lastError = "connection refused"
            node.stateChangedAt = Self.t0.addingTimeInterval(5)
            node.port = 65535
            try await store.updateNode(node)
            #expect(try await store.node(id: node.id) == node)
            #expect(try await store.credentials(forNode: node.id) == credentials)

            // TLS settings replaced and removed, per node and per family.
            #expect(try await store.setTLS(nil, forNode: node.id))
            #expect(try await store.credentials(forNode: node.id) == NodeCredentials(cookie: "cookie-b"))
            #expect(try await store.setTLS(Self.tls, forNode: other.id))
            #expect(try await store.credentials(forNode: other.id)?.tls == Self.tls)
            #expect(try await store.setTLS(Self.tls, forNode: UUID()) == false)
            #expect(try await store.familiesTLS().isEmpty)
            #expect(try await store.setTLS(Self.tls, forFamily: family.id))
            #expect(try await store.familiesTLS() == [family.id: Self.tls])
            #expect(try await store.family(id: family.id) == family)
            #expect(try await store.setTLS(Self.tls, forFamily: UUID()) == false)
            #expect(try await store.setTLS(nil, forFamily: family.id))
            #expect(try await store.familiesTLS().isEmpty)

            // Deleting the family leaves the node, without a family.
            #expect(try await store.deleteFamily(id: family.id))
            #expect(try await store.node(id: node.id)?.familyID == nil)

            #expect(try await store.deleteNode(id: node.id))
            #expect(try await store.deleteNode(id: node.id) == false)
            #expect(try await store.nodes().map(\.id) == [other.id])
        }
    }

    @Test("families: round trip, deleted ones unlisted, automatic family made once under 16 racing callers", arguments: StoreBackend.allCases)
    func families(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let manual = NodeFamily(name: "web", description: "front", kind: .deployment, nodeSelection: "all",
                                    bootstrapStrategy: "ssh", bootstrapStrategyOptions: ["user": "deploy"], createdAt: Self.t0)
            var gone = NodeFamily(name: "old", kind: .deployment, createdAt: Self.t0)
            gone.deleted = true
            try await store.insertFamily(manual)
            try await store.insertFamily(gone)
            #expect(try await store.family(id: manual.id) == manual)
            #expect(try await store.family(id: gone.id)?.deleted == true)
            #expect(try await store.families().map(\.id) == [manual.id])

            let results = try await withThrowingTaskGroup(of: (NodeFamily, Bool).self) { group in
                for _ in 0..<16 { group.addTask { try await store.automaticFamily(bootScript: "Erlang/OTP 25") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter(\.1).count == 1)
            #expect(Set(results.map(\.0.id)).count == 1)
            let automatic = results[0].0
            #expect(automatic.kind == .automatic && automatic.bootScript == "Erlang/OTP 25")
            let again = try await store.automaticFamily(bootScript: "Erlang/OTP 25")
            #expect(again.created == false && again.family.id == automatic.id)
            #expect(try await store.families().count == 2)
            #expect(try await store.deleteFamily(id: automatic.id))
            #expect(try await store.deleteFamily(id: automatic.id) == false)
        }
    }

    @Test("tokens: by hash, listed oldest first, touched, deleted", arguments: StoreBackend.allCases)
    func tokens(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let first = APIToken(name: "admin", role: .admin, createdAt: Self.t0)
            let second = APIToken(name: "viewer", role: .viewer, createdAt: Self.t0.addingTimeInterval(1))
            try await store.insertToken(second, secretHash: Data([2, 2]))
            try await store.insertToken(first, secretHash: Data([1, 1]))
            #expect(try await store.token(secretHash: Data([1, 1])) == first)
            #expect(try await store.token(secretHash: Data([9])) == nil)
            #expect(try await store.tokens() == [first, second])
            try await store.touchToken(id: second.id, at: Self.t0.addingTimeInterval(60))
            #expect(try await store.token(secretHash: Data([2, 2]))?.lastUsedAt == Self.t0.addingTimeInterval(60))
            #expect(try await store.deleteToken(id: first.id))
            #expect(try await store.deleteToken(id: first.id) == false)
            #expect(try await store.tokens().map(\.id) == [second.id])
        }
    }

    @Test("settings: set, replace, delete, by prefix", arguments: StoreBackend.allCases)
    func settings(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            try await store.setSetting("alarms.threshold", Data("1".utf8))
            try await store.setSetting("alarms.threshold", Data("2".utf8))
            try await store.setSetting("alarms.other", Data("3".utf8))
            try await store.setSetting("alarmsX", Data("4".utf8))
            try await store.setSetting("level.node", Data([0, 255]))
            #expect(try await store.setting("alarms.threshold") == Data("2".utf8))
            #expect(try await store.setting("level.node") == Data([0, 255]))
            #expect(try await store.settings(prefix: "alarms.") == ["alarms.threshold": Data("2".utf8), "alarms.other": Data("3".utf8)])
            try await store.setSetting("alarms.other", nil)
            #expect(try await store.setting("alarms.other") == nil)
            #expect(try await store.settings(prefix: "zzz").isEmpty)
        }
    }

    @Test("notifications: ids in order, newest first, cursor paging, filters, retention", arguments: StoreBackend.allCases)
    func notifications(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let nodeA = UUID(), nodeB = UUID()
            var stored: [NodeNotification] = []
            for batch in 0..<5 {
                let notifications = (0..<5).map { index in
                    let n = batch * 5 + index
                    return NodeNotification(nodeID: n % 2 == 0 ? nodeA : nodeB, nodeName: n % 2 == 0 ? "a@h" : "b@h",
                                            time: Self.t0.addingTimeInterval(Double(n)),
                                            severity: n % 5 == 0 ? .error : .info, source: .logger,
                                            message: n == 7 ? "Disk 100% FULL_now" : "event \(n)", metadata: ["n": "\(n)"])
                }
                stored += try await store.appendNotifications(notifications, retain: 1000)
            }
            let ids = stored.map(\.id)
            #expect(ids == ids.sorted() && Set(ids).count == 25)
            #expect(try await store.notificationCount() == 25)

            let newest = try await store.notifications(NotificationQuery(limit: 3))
            #expect(newest.map(\.id) == Array(ids.suffix(3).reversed()))
            #expect(newest.first == stored.last)

            // Paging backwards by cursor visits every one exactly once.
            var seen: [Int64] = []
            var cursor: Int64?
            while true {
                let page = try await store.notifications(NotificationQuery(before: cursor, limit: 4))
                if page.isEmpty { break }
                seen += page.map(\.id)
                cursor = page.last?.id
            }
            #expect(seen == ids.reversed())

            #expect(try await store.notifications(NotificationQuery(nodes: [nodeB], limit: 100)).count == 12)
            #expect(try await store.notifications(NotificationQuery(nodes: [], limit: 100)).isEmpty)
            #expect(try await store.notifications(NotificationQuery(severity: .error, limit: 100)).count == 5)
            #expect(try await store.notifications(NotificationQuery(from: Self.t0.addingTimeInterval(10), to: Self.t0.addingTimeInterval(12),
                                                                    limit: 100)).map(\.message) == ["event 12", "event 11", "event 10"])
            // Text search: case-insensitive, % and _ taken literally.
            #expect(try await store.notifications(NotificationQuery(text: "100% full_", limit: 100)).map(\.message) == ["Disk 100% FULL_now"])
            #expect(try await store.notifications(NotificationQuery(text: "0%", limit: 100)).count == 1)
            #expect(try await store.notifications(NotificationQuery(text: "event_1", limit: 100)).isEmpty)

            // Retention: only the newest `retain` stay.
            let more = (0..<3).map { NodeNotification(nodeID: nil, nodeName: "numbat", time: Self.t0, severity: .notice, source: .numbat,
                                                      message: "more \($0)") }
            let appended = try await store.appendNotifications(more, retain: 10)
            #expect(appended.map(\.message) == ["more 0", "more 1", "more 2"] && appended[0].id > ids.last!)
            #expect(try await store.notificationCount() == 10)
            let kept = try await store.notifications(NotificationQuery(limit: 100))
            #expect(kept.map(\.id) == Array((ids + appended.map(\.id)).suffix(10).reversed()))
            #expect(kept.first?.nodeID == nil && kept.first?.metadata == [:])
        }
    }

    @Test("alarms: raise, repeat, escalate, acknowledge, comment, clear, history, queries; one alarm under racing raises",
          arguments: StoreBackend.allCases)
    func alarms(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let node = UUID()
            func raise(_ severity: Alarm.Severity, at seconds: Double, key: String = "disk") -> AlarmRaise {
                AlarmRaise(nodeID: node, nodeName: "n@h", key: key, source: .builtin, severity: severity, summary: "disk \(severity)",
                           details: "{disk,\"/\"}", time: Self.t0.addingTimeInterval(seconds))
            }
            let raised = try #require(try await store.raiseAlarm(raise(.minor, at: 0), repeat: true))
            #expect(raised.kind == .raised && raised.alarm.state == .new && raised.alarm.raiseCount == 1)
            let id = raised.alarm.id
            #expect(try await store.raiseAlarm(raise(.minor, at: 1), repeat: false) == nil)
            let repeated = try #require(try await store.raiseAlarm(raise(.minor, at: 2), repeat: true))
            #expect(repeated.kind == .repeated && repeated.alarm.id == id && repeated.alarm.raiseCount == 2)

            let acknowledged = try await store.acknowledgeAlarm(id: id, by: "ops", comment: "looking", time: Self.t0.addingTimeInterval(3))
            #expect(acknowledged.alarm.state == .acknowledged && acknowledged.alarm.acknowledgedBy == "ops")
            let twice = await #expect(throws: NumbatError.self) {
                try await store.acknowledgeAlarm(id: id, by: "ops", comment: "", time: Self.t0)
            }
            #expect(twice?.code == "alarm_already_acknowledged")
            // Worse than what was acknowledged: new again.
            let escalated = try #require(try await store.raiseAlarm(raise(.critical, at: 4), repeat: true))
            #expect(escalated.kind == .escalated && escalated.alarm.state == .new && escalated.alarm.acknowledgedAt == nil)
            #expect(escalated.alarm.severity == .critical && escalated.alarm.raiseCount == 3)
            _ = try await store.commentAlarm(id: id, by: "ops", text: "replacing the disk", time: Self.t0.addingTimeInterval(5))
            let missing = await #expect(throws: NumbatError.self) { try await store.commentAlarm(id: 999_999, by: "x", text: "", time: Self.t0) }
            #expect(missing?.code == "alarm_not_found")
            #expect(try await store.activeAlarms(nodeID: node).map(\.id) == [id])

            let cleared = try #require(try await store.clearAlarm(nodeID: node, key: "disk", time: Self.t0.addingTimeInterval(6), reason: "ok"))
            #expect(cleared.kind == .cleared && cleared.alarm.state == .cleared && cleared.alarm.clearedAt == Self.t0.addingTimeInterval(6))
            #expect(try await store.clearAlarm(nodeID: node, key: "disk", time: Self.t0, reason: "again") == nil)
            #expect(try await store.activeAlarms(nodeID: node).isEmpty)

            let stored = try #require(try await store.alarm(id: id))
            #expect(stored.state == .cleared && stored.raiseCount == 3 && stored.severity == .critical)
            // The escalation took the acknowledgement back; the history keeps it.
            #expect(stored.acknowledgedAt == nil && stored.details == "{disk,\"/\"}")
            #expect(stored.history?.map(\.kind) == [.raised, .repeated, .acknowledged, .escalated, .commented, .cleared])
            #expect(stored.history?[2].actor == "ops" && stored.history?[2].text == "looking")
            #expect(stored.history?.last?.text == "ok")
            #expect(try await store.alarm(id: 999_999) == nil)

            // Raised after it cleared: a new alarm.
            let reraised = try #require(try await store.raiseAlarm(raise(.warning, at: 7), repeat: true))
            #expect(reraised.kind == .raised && reraised.alarm.id != id)
            let other = try #require(try await store.raiseAlarm(raise(.major, at: 8, key: "memory"), repeat: true))

            #expect(try await store.alarms(AlarmQuery(limit: 10)).map(\.id) == [other.alarm.id, reraised.alarm.id, id])
            #expect(try await store.alarms(AlarmQuery(states: [.cleared], limit: 10)).map(\.id) == [id])
            #expect(try await store.alarms(AlarmQuery(states: [.new, .acknowledged], limit: 10)).count == 2)
            #expect(try await store.alarms(AlarmQuery(severity: .major, limit: 10)).map(\.id) == [other.alarm.id, id])
            #expect(try await store.alarms(AlarmQuery(nodes: [UUID()], limit: 10)).isEmpty)
            #expect(try await store.alarms(AlarmQuery(source: .sasl, limit: 10)).isEmpty)
            #expect(try await store.alarms(AlarmQuery(before: other.alarm.id, limit: 1)).map(\.id) == [reraised.alarm.id])

            // Ten sources raising one alarm at once: one alarm, raised once, repeated nine times.
            let changes = try await withThrowingTaskGroup(of: AlarmChange?.self) { group in
                for index in 0..<10 { group.addTask { try await store.raiseAlarm(raise(.minor, at: 10 + Double(index), key: "race"), repeat: true) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(changes.compactMap { $0?.kind }.filter { $0 == .raised }.count == 1)
            #expect(Set(changes.compactMap { $0?.alarm.id }).count == 1)
            let race = try #require(try await store.activeAlarms(nodeID: node).first { $0.key == "race" })
            #expect(race.raiseCount == 10)
        }
    }

    @Test("audit: appended with ids, newest first, by node, by cursor", arguments: StoreBackend.allCases)
    func audit(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let node = UUID()
            var ids: [Int64] = []
            for index in 0..<5 {
                let entry = AuditEntry(time: Self.t0.addingTimeInterval(Double(index)), actor: "admin", nodeID: index % 2 == 0 ? node : nil,
                                       nodeName: "n@h", command: "erlang:now()", outcome: index == 4 ? .error : .ok, result: "r\(index)",
                                       durationMilliseconds: 1.5)
                let stored = try await store.appendAudit(entry)
                #expect(stored.id > (ids.last ?? 0))
                ids.append(stored.id)
            }
            let all = try await store.auditEntries(node: nil, before: nil, limit: 10)
            #expect(all.map(\.id) == ids.reversed())
            #expect(all.first?.outcome == .error && all.first?.result == "r4" && all.first?.durationMilliseconds == 1.5)
            #expect(all.first?.time == Self.t0.addingTimeInterval(4) && all.last?.nodeID == node)
            #expect(try await store.auditEntries(node: node, before: nil, limit: 10).map(\.id) == [ids[4], ids[2], ids[0]])
            #expect(try await store.auditEntries(node: nil, before: ids[3], limit: 2).map(\.id) == [ids[2], ids[1]])
            #expect(try await store.auditEntries(node: node, before: ids[2], limit: 10).map(\.id) == [ids[0]])
        }
    }

    @Test("orchestration records: put, replace, by kind and parent in order, sealed secrets, delete", arguments: StoreBackend.allCases)
    func orchestration(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let provider = UUID(), first = UUID(), second = UUID()
            try await store.putRecord(kind: "provider", id: provider, parent: nil, body: Data("{\"p\":1}".utf8))
            try await store.putRecord(kind: "domain", id: first, parent: provider, body: Data("d1".utf8))
            try await store.putRecord(kind: "domain", id: second, parent: provider, body: Data("d2".utf8))
            try await store.putRecord(kind: "domain", id: UUID(), parent: nil, body: Data("d3".utf8))
            #expect(try await store.record(kind: "provider", id: provider) == Data("{\"p\":1}".utf8))
            #expect(try await store.record(kind: "domain", id: provider) == nil)
            #expect(try await store.records(kind: "domain", parent: provider) == [Data("d1".utf8), Data("d2".utf8)])
            #expect(try await store.records(kind: "domain", parent: nil).count == 3)

            let secret = "AKIA-very-secret-\(UUID().uuidString)"
            try await store.setRecordSecret(kind: "provider", id: provider, secret: secret)
            // Replacing the document keeps the secret and the record's place.
            try await store.putRecord(kind: "domain", id: first, parent: provider, body: Data("d1-v2".utf8))
            try await store.putRecord(kind: "provider", id: provider, parent: nil, body: Data("{\"p\":2}".utf8))
            #expect(try await store.records(kind: "domain", parent: provider) == [Data("d1-v2".utf8), Data("d2".utf8)])
            #expect(try await store.recordSecret(kind: "provider", id: provider) == secret)
            #expect(try await store.recordSecret(kind: "domain", id: first) == nil)
            let missing = await #expect(throws: NumbatError.self) {
                try await store.setRecordSecret(kind: "provider", id: UUID(), secret: "x")
            }
            #expect(missing?.code == "not_found")

            // The database holds it sealed only.
            let raw = try await fixture.rawHex("SELECT secret_sealed FROM orch_record WHERE secret_sealed IS NOT NULL")
            #expect(raw.count == 1 && !raw[0].isEmpty)
            #expect(!raw[0].contains(Data(secret.utf8).storeHex))

            #expect(try await store.deleteRecord(kind: "domain", id: second))
            #expect(try await store.deleteRecord(kind: "domain", id: second) == false)
            #expect(try await store.records(kind: "domain", parent: provider).count == 1)
        }
    }

    @Test("metric blocks: names, chunks, ranges, compaction, pruning, stats", arguments: StoreBackend.allCases)
    func metricBlocks(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let a = UUID(), b = UUID()
            // Numbers handed out by the store: the next free ones, in name order; a known name keeps its own.
            #expect(try await store.numberMetricNames(["process_count", "memory.total"]) == ["memory.total": 1, "process_count": 2])
            #expect(try await store.numberMetricNames(["run_queue", "process_count", "run_queue"]) == ["process_count": 2, "run_queue": 3])
            #expect(try await store.metricNames() == [1: "memory.total", 2: "process_count", 3: "run_queue"])
            #expect(try await store.numberMetricNames([]) == [:])
            // Servers sharing the store number new names at the same moment: one number per name.
            let fresh = (0..<40).map { "concurrent_\($0)" }
            let answers = try await withThrowingTaskGroup(of: [String: Int].self) { group in
                for seed in 0..<8 {
                    var random = SeededRandom(seed: UInt64(seed))
                    let order = fresh.shuffled(using: &random)
                    group.addTask { try await store.numberMetricNames(order) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(answers).count == 1)
            #expect(Set(answers[0].values).count == fresh.count)

            func block(_ node: UUID, tier: Int = 0, start: Int64, sequence: Int, end: Int64, _ bytes: [UInt8]) -> StoredMetricBlock {
                StoredMetricBlock(nodeID: node, tier: tier, start: start, sequence: sequence, end: end, points: bytes.count, data: bytes)
            }
            // Chunks of one open block; a repeated key in one write: the last one wins.
            try await store.writeMetricBlocks([block(a, start: 0, sequence: 1, end: 60, [1]), block(a, start: 0, sequence: 2, end: 120, [2, 2]),
                                               block(a, start: 0, sequence: 2, end: 120, [3, 3, 3]),
                                               block(b, start: 0, sequence: 1, end: 60, [4]),
                                               block(a, tier: 1, start: 0, sequence: 0, end: 3600, [5, 5]),
                                               block(a, start: 3600, sequence: 1, end: 3660, [6])])
            let range = try await store.metricBlocks(nodes: [b, a], tier: 0, from: 0, to: 3600)
            #expect(range.map(\.data) == [[4], [1], [3, 3, 3]])
            #expect(range[2] == block(a, start: 0, sequence: 2, end: 120, [3, 3, 3]))
            #expect(try await store.metricBlocks(nodes: [a], tier: 0, from: 120, to: 4000).map(\.data) == [[6]])
            #expect(try await store.metricBlocks(nodes: [a], tier: 1, from: 0, to: 10).map(\.data) == [[5, 5]])
            #expect(try await store.metricBlocks(nodes: [], tier: 0, from: 0, to: 10_000).isEmpty)

            let chunked = try await store.chunkedMetricBlocks(nodes: [a, b]).sorted { ($0.nodeID == a ? 0 : 1, $0.start) < ($1.nodeID == a ? 0 : 1, $1.start) }
            #expect(chunked == [ChunkedMetricBlock(nodeID: a, tier: 0, start: 0, end: 120, lastSequence: 2),
                                ChunkedMetricBlock(nodeID: a, tier: 0, start: 3600, end: 3660, lastSequence: 1),
                                ChunkedMetricBlock(nodeID: b, tier: 0, start: 0, end: 60, lastSequence: 1)])

            // Chunks 1 and 2 of a's first block merged into one row at 1; b's and a's other block untouched.
            try await store.writeMetricBlocks([block(a, start: 0, sequence: 3, end: 180, [8])])
            try await store.mergeMetricChunks([MetricChunkMerge(merged: block(a, start: 0, sequence: 1, end: 120, [9, 9]), lastSequence: 2)])
            #expect(try await store.metricBlocks(nodes: [a, b], tier: 0, from: 0, to: 3600).map(\.data) == [[9, 9], [8], [4]])
            #expect(try await store.metricBlocks(nodes: [a], tier: 0, from: 0, to: 3600).map(\.sequence) == [1, 3])
            // A merge's rows: one block's, from a chunk number on, each node's oldest first, in
            // the order the nodes were asked for; the other blocks and tiers left out.
            try await store.writeMetricBlocks([block(a, start: 0, sequence: 4, end: 240, [10]), block(b, start: 0, sequence: 2, end: 120, [11])])
            #expect(try await store.metricBlockRows(nodes: [b, a], tier: 0, start: 0, fromSequence: 2)
                == [block(b, start: 0, sequence: 2, end: 120, [11]), block(a, start: 0, sequence: 3, end: 180, [8]), block(a, start: 0, sequence: 4, end: 240, [10])])
            #expect(try await store.metricBlockRows(nodes: [a], tier: 0, start: 0, fromSequence: 0).map(\.sequence) == [1, 3, 4])
            #expect(try await store.metricBlockRows(nodes: [a], tier: 0, start: 3600, fromSequence: 1).map(\.data) == [[6]])
            #expect(try await store.metricBlockRows(nodes: [a], tier: 1, start: 0, fromSequence: 1).isEmpty)
            #expect(try await store.metricBlockRows(nodes: [], tier: 0, start: 0, fromSequence: 0).isEmpty)
            try await store.mergeMetricChunks([MetricChunkMerge(merged: block(a, start: 0, sequence: 3, end: 240, [8, 10]), lastSequence: 4)])
            try await store.mergeMetricChunks([MetricChunkMerge(merged: block(b, start: 0, sequence: 1, end: 120, [4, 11]), lastSequence: 2)])
            #expect(try await store.metricBlocks(nodes: [a, b], tier: 0, from: 0, to: 3600).map(\.data) == [[9, 9], [8, 10], [4, 11]])
            try await store.mergeMetricChunks([])
            try await store.compactMetricBlocks([block(a, start: 0, sequence: 0, end: 3600, [7, 7, 7, 7])])
            #expect(try await store.metricBlocks(nodes: [a], tier: 0, from: 0, to: 3600) == [block(a, start: 0, sequence: 0, end: 3600, [7, 7, 7, 7])])
            #expect(try await store.chunkedMetricBlocks(nodes: [a]).map(\.start) == [3600])
            #expect(try await store.metricStorageStats() == MetricStorageStats(blocks: 4, points: 9, dataBytes: 9))

            #expect(try await store.deleteMetricBlocks(tier: 0, endingBy: 3600) == 2)
            #expect(try await store.deleteMetricBlocks(tier: 0, endingBy: 3600) == 0)
            try await store.deleteMetricBlocks(node: a)
            #expect(try await store.metricStorageStats() == MetricStorageStats(blocks: 0, points: 0, dataBytes: 0))
        }
    }

    @Test("secrets: cookies and TLS keys stored sealed, opened by a store reopened with the same key file", arguments: StoreBackend.allCases)
    func sealedCookies(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let cookie = "plain-cookie-\(UUID().uuidString)"
            let key = "plain-key-\(UUID().uuidString)"
            let tls = TLSCredentials(certificate: "cert", key: key, ca: "ca")
            let node = ManagedNode(name: "s@127.0.0.1", state: .up, host: "127.0.0.1", addedAt: Self.t0, stateChangedAt: Self.t0)
            try await fixture.store.insertNode(node, credentials: NodeCredentials(cookie: cookie, tls: tls))
            let family = NodeFamily(name: "sealed", kind: .deployment, createdAt: Self.t0)
            try await fixture.store.insertFamily(family)
            #expect(try await fixture.store.setTLS(tls, forFamily: family.id))
            let raw = try await fixture.rawHex("SELECT cookie_sealed FROM node")
            #expect(raw.count == 1 && raw[0].count > Data(cookie.utf8).storeHex.count)
            #expect(!raw[0].contains(Data(cookie.utf8).storeHex))
            for query in ["SELECT tls_sealed FROM node", "SELECT tls_sealed FROM node_family"] {
                let sealed = try await fixture.rawHex(query)
                #expect(sealed.count == 1 && !sealed[0].contains(Data(key.utf8).storeHex), "\(query)")
            }
            let reopened = try await fixture.reopen()
            #expect(try await reopened.credentials(forNode: node.id) == NodeCredentials(cookie: cookie, tls: tls))
            #expect(try await reopened.familiesTLS() == [family.id: tls])
            try await reopened.shutdown()
        }
    }

    @Test("PostgreSQL: migrations recorded once when two stores open one database at the same time")
    func migrationsOnce() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            guard let server = fixture.postgres else { return }
            let database = "racing"
            try await server.createDatabase(database)
            let location = try PostgresLocation(parsing: server.url(database: database))
            let stores = try (0..<3).map { _ in try PostgresStore(location: location, directory: fixture.directory, logger: StoreFixture.logger) }
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for store in stores { group.addTask { try await store.prepare() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for store in stores { try await store.shutdown() }
            #expect(applied.count == 3 && Set(applied).count == 1 && applied[0].count >= 6)
            let recorded = try await server.psql("SELECT count(*), count(DISTINCT version) FROM numbat_migrations", database: database)
            #expect(recorded == "\(applied[0].count)|\(applied[0].count)")
        }
    }

    @Test("PostgreSQL: an unreachable database is a clear error naming it without its password")
    func unreachable() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let location = try PostgresLocation(parsing: "postgres://numbat:hunter2@127.0.0.1:1/numbat?sslmode=disable")
        #expect(location.password == "hunter2" && !location.description.contains("hunter2"))
        let store = try PostgresStore(location: location, directory: directory, logger: StoreFixture.logger)
        let error = await #expect(throws: PostgresStoreError.self) { try await store.prepare() }
        try await store.shutdown()
        let text = "\(error.map { "\($0)" } ?? "")"
        #expect(text.contains("127.0.0.1:1/numbat") && !text.contains("hunter2"), "\(text)")
        #expect(throws: PostgresStoreError.self) { try PostgresLocation(parsing: "postgres://127.0.0.1/numbat") }
        #expect(throws: PostgresStoreError.self) { try PostgresLocation(parsing: "mysql://u@h/d") }
        #expect(try StoreLocation(parsing: "sqlite") == .embedded)
    }
}

/// The two stores the suite runs against.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A fresh store of one backend for one test: SQLite in a temporary data directory, PostgreSQL
/// in a database of a server of the test's own (`PostgresServer`); everything is removed after.
struct StoreFixture: Sendable {
    let backend: StoreBackend
    let store: any NumbatStorage
    let directory: URL
    let postgres: PostgresServer?
    static let database = "numbat"
    /// Warnings and worse only: migrations log at info.
    static let logger: Logger = {
        var logger = Logger(label: "store-test")
        logger.logLevel = .warning
        return logger
    }()

    static func with(_ backend: StoreBackend, _ body: @Sendable (StoreFixture) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        switch backend {
        case .sqlite:
            let store = try SQLiteStore(directory: directory)
            _ = try await store.prepare()
            try await run(StoreFixture(backend: backend, store: store, directory: directory, postgres: nil), body)
        case .postgres:
            // Skipped (passes empty) outside CI without PostgreSQL; under CI=true this throws.
            guard try Requirement.postgres.check() else { return }
            try await PostgresServer.with { server in
                try await server.createDatabase(database)
                let store = try PostgresStore(location: try PostgresLocation(parsing: server.url(database: database)), directory: directory,
                                              logger: StoreFixture.logger)
                _ = try await store.prepare()
                try await run(StoreFixture(backend: backend, store: store, directory: directory, postgres: server), body)
            }
        }
    }

    private static func run(_ fixture: StoreFixture, _ body: @Sendable (StoreFixture) async throws -> Void) async throws {
        do {
            try await body(fixture)
        } catch {
            try? await fixture.store.shutdown()
            throw error
        }
        try await fixture.store.shutdown()
    }

    /// Another store on the same data directory and database, as after a restart.
    func reopen() async throws -> any NumbatStorage {
        let store: any NumbatStorage
        if let postgres {
            store = try PostgresStore(location: try PostgresLocation(parsing: postgres.url(database: Self.database)), directory: directory,
                                      logger: StoreFixture.logger)
        } else {
            store = try SQLiteStore(directory: directory)
        }
        _ = try await store.prepare()
        return store
    }

    /// One blob column's raw bytes, in lowercase hex, read past the store: psql for PostgreSQL,
    /// a GRDB connection of its own on the SQLite file.
    func rawHex(_ sql: String) async throws -> [String] {
        if let postgres {
            let hexSQL = "SELECT encode(t.c, 'hex') FROM (\(sql)) AS t(c)"
            return try await postgres.psql(hexSQL, database: Self.database).split(separator: "\n").map(String.init)
        }
        let queue = try DatabaseQueue(path: directory.appendingPathComponent("numbat.sqlite").path)
        defer { try? queue.close() }
        return try await queue.read { db in try Data.fetchAll(db, sql: sql).map(\.storeHex) }
    }
}

extension Data {
    var storeHex: String { map { String(format: "%02x", $0) }.joined() }
}
