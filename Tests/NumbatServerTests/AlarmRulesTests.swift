import ErlangTerm
import Foundation
import NumbatAPI
import NumbatCore
@testable import NumbatServices
import NumbatStore
import Testing

/// The built-in checks and thresholds, as pure functions, and the alarm store's identity and
/// lifecycle rules, on a real SQLite store.
@Suite("alarm rules and storage")
struct AlarmRulesTests {
    static var facts: AlarmFacts {
        var facts = AlarmFacts()
        facts.processLimit = 1000
        facts.portLimit = 1000
        facts.etsLimit = 1000
        facts.atomLimit = 1000
        facts.processCount = 10
        facts.maxFileDescriptors = 1000
        facts.openFileDescriptors = 10
        return facts
    }

    @Test("each limit is minor at 80 %, major at 90 %, nothing below; a check set to null is off")
    func limits() {
        var facts = Self.facts
        let thresholds = AlarmThresholds()
        #expect(BuiltInChecks.evaluate(facts, thresholds).isEmpty)
        facts.processCount = 800
        facts.atomCount = 950
        facts.openFileDescriptors = 899
        let found = Dictionary(uniqueKeysWithValues: BuiltInChecks.evaluate(facts, thresholds).map { ($0.key, $0) })
        #expect(found["process_limit"]?.severity == .minor)
        #expect(found["atom_limit"]?.severity == .major)
        #expect(found["file_descriptors"]?.severity == .minor)
        #expect(found["process_limit"]?.summary == "processes: 800 of the limit 1000 (80%)")
        var off = thresholds
        off.atoms = nil
        #expect(!BuiltInChecks.evaluate(facts, off).contains { $0.key == "atom_limit" })
    }

    @Test("a long message queue names its process; old code, disks, CPU load and memory")
    func named() {
        var facts = Self.facts
        facts.longQueues = [.init(pid: "<0.90.0>", name: "my_server", length: 150_000, currentFunction: "gen_server:loop/7"),
                            .init(pid: "<0.91.0>", name: nil, length: 20_000, currentFunction: "")]
        facts.oldCode = ["shop"]
        facts.disks = ["/": 96, "/boot": 10]
        facts.cpuLoad = 7
        facts.logicalProcessors = 2
        facts.systemMemory = 1000
        facts.memoryTotal = 750
        let found = Dictionary(uniqueKeysWithValues: BuiltInChecks.evaluate(facts, AlarmThresholds()).map { ($0.key, $0) })
        #expect(found["message_queue:my_server"]?.severity == .major)
        #expect(found["message_queue:my_server"]?.summary.contains("my_server (<0.90.0>)") == true)
        #expect(found["message_queue:<0.91.0>"]?.severity == .minor)
        #expect(found["old_code"]?.summary == "old code loaded: shop")
        #expect(found["disk:/"]?.severity == .major && found["disk:/boot"] == nil)
        #expect(found["cpu_load"]?.severity == .major)
        #expect(found["memory"]?.severity == .minor)
    }

    @Test("module and export tables, shell history, distribution buffer, run queue, a big process and the clock, each with its thresholds")
    func moreChecks() {
        var facts = Self.facts
        let thresholds = AlarmThresholds()
        facts.moduleCount = 100
        facts.moduleLimit = 65_536
        facts.exportCount = 3_000
        facts.exportLimit = 524_288
        facts.shellHistory = .init(used: 1_000, limit: 524_288)
        facts.distBusyLimit = 1_048_576
        facts.runQueue = 3
        facts.schedulersOnline = 2
        facts.biggestProcess = .init(who: "code_server (<0.50.0>)", bytes: 300_000)
        facts.clockSkewSeconds = 0.2
        #expect(BuiltInChecks.evaluate(facts, thresholds).isEmpty, "\(BuiltInChecks.evaluate(facts, thresholds))")
        facts.moduleCount = 60_000
        facts.exportCount = 500_000
        facts.shellHistory = .init(used: 430_000, limit: 524_288)
        facts.distQueueMax = 1_000_000
        facts.distQueuePeer = "b@h"
        facts.runQueue = 11
        facts.biggestProcess = .init(who: "hog (<0.90.0>)", bytes: 2_000_000_000)
        facts.clockSkewSeconds = 4
        let found = Dictionary(uniqueKeysWithValues: BuiltInChecks.evaluate(facts, thresholds).map { ($0.key, $0) })
        #expect(found["module_limit"]?.severity == .major && found["module_limit"]?.summary == "modules loaded: 60000 of the limit 65536 (92%)")
        #expect(found["export_limit"]?.severity == .major)
        #expect(found["shell_history"]?.severity == .minor && found["shell_history"]?.summary.contains("420 KB of its 512 KB cap (82%)") == true)
        #expect(found["dist_buffer"]?.severity == .major && found["dist_buffer"]?.summary.contains("queued for b@h") == true)
        #expect(found["run_queue"]?.severity == .minor && found["run_queue"]?.summary == "run queue: 11 processes ready to run on 2 scheduler(s)")
        #expect(found["process_memory"]?.severity == .major && found["process_memory"]?.summary == "process memory: hog (<0.90.0>) uses 1907 MB")
        #expect(found["clock_skew"]?.severity == .minor && found["clock_skew"]?.summary == "clock: the node's clock is 4.0 s off Numbat's")
        // Off when set to null; absent when the node does not tell.
        var off = thresholds
        off.modules = nil
        off.clockSkew = nil
        #expect(!BuiltInChecks.evaluate(facts, off).contains { ["module_limit", "clock_skew"].contains($0.key) })
        facts.moduleLimit = nil
        facts.shellHistory = nil
        #expect(!BuiltInChecks.evaluate(facts, thresholds).contains { ["module_limit", "shell_history"].contains($0.key) })
        // 21 checks, the seed's and today's WombatOAM's ~20, by their threshold names.
        let encoded = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(thresholds))) as? [String: Any] ?? [:]
        #expect(encoded.keys.filter { !["interval_seconds", "alarm_managers"].contains($0) }.count == 21, "\(encoded.keys.sorted())")
    }

    @Test("the clock's skew allows for the round trip: a node read at any moment of the call is not off")
    func clockSkew() {
        let sent = Date(timeIntervalSince1970: 1_000)
        let received = Date(timeIntervalSince1970: 1_002)
        #expect(BuiltInChecks.clockSkew(nodeMilliseconds: 1_000_500, sent: sent, received: received) == 0)
        #expect(BuiltInChecks.clockSkew(nodeMilliseconds: 1_002_000, sent: sent, received: received) == 0)
        #expect(BuiltInChecks.clockSkew(nodeMilliseconds: 1_007_000, sent: sent, received: received) == 5)
        #expect(BuiltInChecks.clockSkew(nodeMilliseconds: 990_000, sent: sent, received: received) == 10)
    }

    @Test("system information and time zones differing within a family raise on each side, off when turned off")
    func familyAspects() {
        var thresholds = AlarmThresholds()
        let family = UUID(), a = UUID(), b = UUID()
        var here = Self.facts, there = Self.facts
        here.system = ["otp_release": "25", "erts_version": "13.1.5", "wordsize": "8"]
        there.system = ["otp_release": "28", "erts_version": "16.4", "wordsize": "8"]
        here.utcOffsetMinutes = 0
        there.utcOffsetMinutes = 540
        var system = FamilyVersions(), zones = FamilyVersions()
        for (id, name, facts) in [(a, "a@h", here), (b, "b@h", there)] {
            system.record(id, family: family, name: name, versions: BuiltInChecks.FamilyAspect.system.values(facts))
            zones.record(id, family: family, name: name, versions: BuiltInChecks.FamilyAspect.timezone.values(facts))
        }
        let systemAlarm = BuiltInChecks.familyMismatch(.system, system.differences(of: a), thresholds)
        #expect(systemAlarm?.key == "system_mismatch")
        #expect(systemAlarm?.summary == "system information differs within the family: erts_version 13.1.5 here, 16.4 on b@h; otp_release 25 here, 28 on b@h")
        let zoneAlarm = BuiltInChecks.familyMismatch(.timezone, zones.differences(of: b), thresholds)
        #expect(zoneAlarm?.key == "timezone_mismatch" && zoneAlarm?.summary == "time zones differ within the family: UTC offset +09:00 here, +00:00 on a@h")
        #expect(BuiltInChecks.FamilyAspect.offset(-330) == "-05:30")
        #expect([0, 540, 845, -720, -59].map(BuiltInChecks.FamilyAspect.offset) == ["+00:00", "+09:00", "+14:05", "-12:00", "-00:59"])
        thresholds.timezoneMismatch = false
        #expect(BuiltInChecks.familyMismatch(.timezone, zones.differences(of: b), thresholds) == nil)
    }

    @Test("versions differing within a family raise on the node, naming the other node")
    func versions() {
        let thresholds = AlarmThresholds()
        let family = UUID(), a = UUID(), b = UUID()
        var tally = FamilyVersions()
        tally.record(a, family: family, name: "a@h", versions: ["shop": "1.0", "stdlib": "4.3"])
        tally.record(b, family: family, name: "b@h", versions: ["shop": "2.0", "stdlib": "4.3"])
        let mismatch = BuiltInChecks.familyMismatch(.applications, tally.differences(of: a), thresholds)
        #expect(mismatch?.summary == "application versions differ within the family: shop 1.0 here, 2.0 on b@h")
        // Another application only, or another family: nothing to compare.
        tally.record(b, family: family, name: "b@h", versions: ["other": "2.0"])
        #expect(BuiltInChecks.familyMismatch(.applications, tally.differences(of: a), thresholds) == nil)
        tally.record(b, family: UUID(), name: "b@h", versions: ["shop": "2.0"])
        #expect(tally.differences(of: a).isEmpty)
        // Recorded again unchanged (every check does), renamed, or moved with the same versions.
        tally.record(b, family: family, name: "b@h", versions: ["shop": "2.0"])
        tally.record(b, family: family, name: "b@h", versions: ["shop": "2.0"])
        #expect(tally.differences(of: a).first?.elsewhere == [.init(version: "2.0", examples: ["b@h"], count: 1)])
        tally.record(b, family: family, name: "b2@h", versions: ["shop": "2.0"])
        #expect(tally.differences(of: a).first?.elsewhere == [.init(version: "2.0", examples: ["b2@h"], count: 1)])
        tally.record(b, family: UUID(), name: "b2@h", versions: ["shop": "2.0"])
        #expect(tally.differences(of: a).isEmpty)
    }

    @Test("the family tally: counts, three names shown, members leaving; a large family costs one lookup per application")
    func familyTally() {
        let family = UUID()
        var tally = FamilyVersions()
        let ids = (0..<10_000).map { _ in UUID() }
        for (index, id) in ids.enumerated() {
            tally.record(id, family: family, name: "n\(index)@h", versions: ["shop": index < 9_990 ? "1.0" : "2.0", "stdlib": "4.3"])
        }
        let odd = tally.differences(of: ids[9_995])
        #expect(odd.count == 1)
        #expect(odd.first?.elsewhere.first?.count == 9_990)
        #expect(odd.first?.elsewhere.first?.examples.count == 3)
        let text = BuiltInChecks.familyMismatch(.applications, odd, AlarmThresholds())?.summary ?? ""
        #expect(text.contains("shop 2.0 here, 1.0 on ") && text.hasSuffix(" and 9987 more"), "\(text)")
        let common = tally.differences(of: ids[0]).first?.elsewhere.first
        #expect(common?.version == "2.0" && common?.count == 10)
        #expect(common.map { Set($0.examples).isSubset(of: (9_990..<10_000).map { "n\($0)@h" }) && $0.examples.count == 3 } == true)
        // The ten 2.0 members go: no difference is left.
        for id in ids.suffix(10) { tally.remove(id) }
        #expect(tally.differences(of: ids[0]).isEmpty)
    }

    @Test("the agent's facts decode from the term it sends")
    func decoding() {
        let term: Term = .map([.atom("process_count"): .integer(5), .atom("process_limit"): .integer(1024),
                               .atom("long_queues"): .list([.map([.atom("pid"): .binary(Array("<0.5.0>".utf8)), .atom("name"): .atom("undefined"),
                                                                  .atom("length"): .integer(12), .atom("current_function"): .binary([])])]),
                               .atom("disks"): .atom("undefined"), .atom("cpu_load"): .float(0.5),
                               .atom("applications"): .list([.tuple([.atom("kernel"), .binary(Array("8.5".utf8))])]),
                               .atom("sasl"): .atom("true")])
        let facts = AlarmFacts(term)
        #expect(facts?.processLimit == 1024 && facts?.longQueues.first?.name == nil && facts?.longQueues.first?.pid == "<0.5.0>")
        #expect(facts?.disks == nil && facts?.cpuLoad == 0.5 && facts?.applications == ["kernel": "8.5"])
        #expect(AlarmFacts(.atom("nope")) == nil)
        let more: Term = .map([.atom("biggest_process"): .map([.atom("pid"): .binary(Array("<0.9.0>".utf8)), .atom("name"): .atom("hog"),
                                                               .atom("length"): .integer(0), .atom("memory"): .integer(4096)]),
                               .atom("module_count"): .integer(100), .atom("module_limit"): .integer(65_536),
                               .atom("shell_history"): .map([.atom("bytes"): .integer(10), .atom("limit"): .integer(20)]),
                               .atom("dist_queue_peer"): .atom("b@h"), .atom("dist_queue_max"): .integer(7),
                               .atom("system"): .map([.atom("otp_release"): .binary(Array("25".utf8)), .atom("wordsize"): .integer(8)]),
                               .atom("utc_offset_minutes"): .integer(-60), .atom("managers"): .list([.atom("rabbit_alarm")])])
        let decoded = AlarmFacts(more)
        #expect(decoded?.biggestProcess == .init(who: "hog (<0.9.0>)", bytes: 4096) && decoded?.moduleCount == 100 && decoded?.exportLimit == nil)
        #expect(decoded?.shellHistory == .init(used: 10, limit: 20) && decoded?.distQueuePeer == "b@h" && decoded?.distQueueMax == 7)
        #expect(decoded?.system == ["otp_release": "25", "wordsize": "8"] && decoded?.utcOffsetMinutes == -60 && decoded?.managers == ["rabbit_alarm"])
    }

    @Test("thresholds: a partial update changes only what it names; nonsense is refused with the field's name")
    func thresholds() throws {
        let updated = try AlarmThresholds().updated(with: .init(fields: [
            "interval_seconds": .int(2), "atoms": .object(["minor": .double(0.5), "major": .double(0.6)]), "ports": .null,
        ]))
        #expect(updated.intervalSeconds == 2 && updated.atoms == .init(minor: 0.5, major: 0.6) && updated.ports == nil)
        #expect(updated.processes == AlarmThresholds().processes)
        let bad: [[String: JSONValue]] = [
            ["atoms": .object(["minor": .double(0.9), "major": .double(0.5)])], ["atoms": .object(["minor": .int(2), "major": .int(3)])],
            ["interval_seconds": .int(0)], ["atom": .int(1)], ["atoms": .string("high")], ["old_code": .string("yes")],
        ]
        for fields in bad {
            #expect(throws: NumbatError.self, "\(fields)") { try AlarmThresholds().updated(with: .init(fields: fields)) }
        }
        // What is encoded decodes to the same thresholds (they are stored so).
        let data = try JSONEncoder().encode(updated)
        #expect(try JSONDecoder().decode(AlarmThresholds.self, from: data) == updated)
        // Stored before a check existed: the check keeps its default (null would turn it off).
        let older = try JSONDecoder().decode(AlarmThresholds.self, from: Data(#"{"interval_seconds": 3, "atoms": null, "old_code": false}"#.utf8))
        #expect(older.intervalSeconds == 3 && older.atoms == nil && !older.oldCode)
        #expect(older.clockSkew == AlarmThresholds().clockSkew && older.alarmManagers == ["rabbit_alarm"] && older.timezoneMismatch)
        let managers = try AlarmThresholds().updated(with: .init(fields: ["alarm_managers": .array([.string("rabbit_alarm"), .string("my_alarms")])]))
        #expect(managers.alarmManagers == ["rabbit_alarm", "my_alarms"])
        for name in ["Bad", "with space", "", "x'y"] {
            #expect(throws: NumbatError.self, "\(name)") { try AlarmThresholds().updated(with: .init(fields: ["alarm_managers": .array([.string(name)])])) }
        }
    }

    @Test("one alarm per node and key while active; escalation reopens an acknowledged one; after clearing, a new one")
    func identity() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-alarms-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory)
        defer { try? store.close() }
        let node = UUID()
        let raise = AlarmRaise(nodeID: node, nodeName: "a@h", key: "disk:/", source: .builtin, severity: .minor, summary: "disk / is 86% full")
        let first = try #require(try await store.raiseAlarm(raise, repeat: true))
        #expect(first.kind == .raised && first.alarm.state == .new)
        #expect(try await store.raiseAlarm(raise, repeat: false) == nil, "a re-sync does not count as raised again")
        let again = try #require(try await store.raiseAlarm(raise, repeat: true))
        #expect(again.kind == .repeated && again.alarm.id == first.alarm.id && again.alarm.raiseCount == 2)

        let acknowledged = try await store.acknowledgeAlarm(id: first.alarm.id, by: "ops", comment: "looking", time: Date())
        #expect(acknowledged.alarm.state == .acknowledged && acknowledged.alarm.acknowledgedBy == "ops")
        await #expect(throws: NumbatError.self) { try await store.acknowledgeAlarm(id: first.alarm.id, by: "ops", comment: "", time: Date()) }
        var worse = raise
        worse.severity = .major
        let escalated = try #require(try await store.raiseAlarm(worse, repeat: true))
        #expect(escalated.kind == .escalated && escalated.alarm.state == .new && escalated.alarm.severity == .major)

        _ = try await store.commentAlarm(id: first.alarm.id, by: "ops", text: "disk ordered", time: Date())
        let cleared = try #require(try await store.clearAlarm(nodeID: node, key: "disk:/", time: Date(), reason: "below threshold"))
        #expect(cleared.alarm.state == .cleared && cleared.alarm.clearedAt != nil)
        #expect(try await store.clearAlarm(nodeID: node, key: "disk:/", time: Date(), reason: "again") == nil)
        let history = try #require(try await store.alarm(id: first.alarm.id)?.history).map(\.kind)
        #expect(history == [.raised, .repeated, .acknowledged, .escalated, .commented, .cleared])

        let next = try #require(try await store.raiseAlarm(raise, repeat: true))
        #expect(next.kind == .raised && next.alarm.id != first.alarm.id)
        #expect(try await store.alarms(AlarmQuery(states: [.new, .acknowledged])).map(\.id) == [next.alarm.id])
        #expect(try await store.alarms(AlarmQuery(severity: .major)).map(\.id) == [first.alarm.id])
        await #expect(throws: NumbatError.self) { try await store.commentAlarm(id: 999_999, by: "ops", text: "x", time: Date()) }
    }
}
