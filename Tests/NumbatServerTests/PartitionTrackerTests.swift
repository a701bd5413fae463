import ErlangTerm
import Foundation
import NumbatAPI
import NumbatCore
@testable import NumbatServices
import Testing

/// The partition decision's pure part, directly: sides from each member's `nodes()`, the matrix
/// and links the API shows, and the tracker's raise-once / clear-on-heal actions.
@Suite("partitions: connectivity and tracker")
struct PartitionTrackerTests {
    static let family = UUID()
    static let ids = (0..<4).map { _ in UUID() }
    static let names = ["a@h", "b@h", "c@h", "d@h"]

    /// Members a..d (the first `count`), all UP unless listed in `down`, and the views given as
    /// "who sees whom".
    static func connectivity(_ sees: [String: [String]], count: Int = 3, down: Set<String> = []) -> FamilyConnectivity {
        let members = (0..<count).map { FamilyConnectivity.Member(id: ids[$0], name: names[$0], state: down.contains(names[$0]) ? .down : .up) }
        return FamilyConnectivity(members: members, views: sees.mapValues { FamilyConnectivity.View(peers: Set($0)) })
    }

    static let whole = connectivity(["a@h": ["b@h", "c@h"], "b@h": ["a@h", "c@h"], "c@h": ["a@h", "b@h"]])
    static let cOff = connectivity(["a@h": ["b@h"], "b@h": ["a@h"], "c@h": []])

    @Test("sides: whole, split, a half-seen link counts, unread members are left out, largest side first")
    func sides() {
        #expect(Self.whole.sides == [["a@h", "b@h", "c@h"]])
        #expect(Self.cOff.sides == [["a@h", "b@h"], ["c@h"]])
        // a still lists c, c no longer lists a: one link, seen from one end.
        #expect(Self.connectivity(["a@h": ["b@h", "c@h"], "b@h": ["a@h"], "c@h": []]).sides == [["a@h", "b@h", "c@h"]])
        #expect(Self.connectivity(["a@h": ["b@h"], "b@h": ["a@h"]]).sides == [["a@h", "b@h"]], "c did not answer")
        #expect(Self.connectivity(["a@h": [], "b@h": [], "c@h": ["d@h"], "d@h": ["c@h"]], count: 4).sides == [["c@h", "d@h"], ["a@h"], ["b@h"]])
        // Peers that are not members (Numbat, other families) do not join sides.
        #expect(Self.connectivity(["a@h": ["x@h"], "b@h": ["x@h"], "c@h": ["x@h", "a@h"]]).sides == [["a@h", "c@h"], ["b@h"]])
    }

    @Test("response: a row per member with what it sees, unread members marked, links with queued bytes and busy")
    func response() {
        var views = ["a@h": FamilyConnectivity.View(peers: ["b@h", "numbat@h"], queues: ["b@h": 2_000_000, "numbat@h": 5], busyLimit: 1_048_576),
                     "b@h": FamilyConnectivity.View(peers: ["a@h"], queues: ["a@h": 0], busyLimit: 1_048_576)]
        views["zz@h"] = FamilyConnectivity.View(peers: [])
        let members = [FamilyConnectivity.Member(id: Self.ids[1], name: "b@h", state: .up), .init(id: Self.ids[0], name: "a@h", state: .up),
                       .init(id: Self.ids[2], name: "c@h", state: .down)]
        let answer = FamilyConnectivity(members: members, views: views).response(family: Self.family, name: "f", checkedAt: Date())
        #expect(answer.rows.map(\.node) == ["a@h", "b@h", "c@h"])
        #expect(answer.rows.map(\.sees) == [["b@h"], ["a@h"], []])
        #expect(answer.rows.map(\.read) == [true, true, false])
        #expect(!answer.split && answer.sides == [["a@h", "b@h"]])
        #expect(answer.links == [.init(from: "a@h", to: "b@h", queueBytes: 2_000_000, busy: true), .init(from: "b@h", to: "a@h", queueBytes: 0, busy: false)])
    }

    @Test("tracker: raised once per split naming the sides, nothing while it lasts, cleared on heal, raised again on the next split")
    func raiseOnceClearOnHeal() throws {
        var tracker = PartitionTracker()
        #expect(tracker.observe(family: Self.family, name: "f", Self.whole).isEmpty)
        let raised = tracker.observe(family: Self.family, name: "f", Self.cOff)
        guard case .raise(let family, let split, let summary, let details)? = raised.first, raised.count == 1 else {
            Issue.record("expected one raise, got \(raised)")
            return
        }
        #expect(family == Self.family && split.holder == Self.ids[0] && split.holderName == "a@h")
        #expect(summary == "f is split into 2 sides: {a@h, b@h} | {c@h}")
        #expect(details.contains("side 1: a@h, b@h") && details.contains("side 2: c@h") && details.contains("a@h sees: b@h"), "\(details)")
        #expect(tracker.observe(family: Self.family, name: "f", Self.cOff).isEmpty, "raised once per split")
        // The split changes shape while it lasts: still the one alarm.
        #expect(tracker.observe(family: Self.family, name: "f", Self.connectivity(["a@h": [], "b@h": [], "c@h": []])).isEmpty)
        let healed = tracker.observe(family: Self.family, name: "f", Self.whole)
        #expect(healed == [.clear(family: Self.family, split, reason: "f is whole again: {a@h, b@h, c@h}")])
        #expect(tracker.observe(family: Self.family, name: "f", Self.whole).isEmpty)
        #expect(tracker.observe(family: Self.family, name: "f", Self.cOff).count == 1, "a new split is a new alarm")
    }

    @Test("tracker: no decision while too few members answer; cleared when fewer than two are UP; an adopted alarm clears on heal")
    func undecided() {
        var tracker = PartitionTracker()
        _ = tracker.observe(family: Self.family, name: "f", Self.cOff)
        #expect(tracker.observe(family: Self.family, name: "f", Self.connectivity(["a@h": []])).isEmpty, "one answer of three UP is no heal")
        #expect(tracker.observe(family: Self.family, name: "f", Self.connectivity([:])).isEmpty, "no answer is no heal")
        let alone = tracker.observe(family: Self.family, name: "f", Self.connectivity(["a@h": []], down: ["b@h", "c@h"]))
        #expect(alone.count == 1 && alone.first.map { if case .clear = $0 { true } else { false } } == true, "\(alone)")
        #expect(tracker.active.isEmpty)

        let split = PartitionTracker.Split(holder: Self.ids[1], holderName: "b@h", sides: [])
        tracker.adopt(family: Self.family, split)
        #expect(tracker.observe(family: Self.family, name: "f", Self.cOff).isEmpty, "an adopted split is not raised again")
        #expect(tracker.observe(family: Self.family, name: "f", Self.whole) == [.clear(family: Self.family, split, reason: "f is whole again: {a@h, b@h, c@h}")])
    }

    @Test("the agent's links/0 map reads into a view (busy events counted, or not countable); anything else does not")
    func agentView() {
        let term: Term = .map([.atom("nodes"): .list([.atom("b@h")]), .atom("queues"): .list([.tuple([.atom("b@h"), .integer(42)])]),
                               .atom("busy_limit"): .integer(1024)])
        #expect(FamilyConnectivity.View(term) == FamilyConnectivity.View(peers: ["b@h"], queues: ["b@h": 42], busyLimit: 1024))
        #expect(FamilyConnectivity.View(Term.atom("undefined")) == nil)
        let counted: Term = .map([.atom("nodes"): .list([.atom("b@h")]), .atom("busy_events"): .list([.tuple([.atom("b@h"), .integer(3)])])])
        #expect(FamilyConnectivity.View(counted)?.busyEvents == ["b@h": 3])
        let uncounted: Term = .map([.atom("nodes"): .list([.atom("b@h")]), .atom("busy_events"): .atom("unavailable")])
        #expect(FamilyConnectivity.View(uncounted)?.busyEvents == nil)
        // A link's count: the view's for its peer, 0 when it counts but saw none, nil when it cannot count.
        let members: [FamilyConnectivity.Member] = [.init(id: UUID(), name: "a@h", state: .up), .init(id: UUID(), name: "b@h", state: .up)]
        let views = ["a@h": FamilyConnectivity.View(peers: ["b@h"], busyEvents: ["b@h": 3]), "b@h": FamilyConnectivity.View(peers: ["a@h"], busyEvents: [:])]
        let links = FamilyConnectivity(members: members, views: views).response(family: UUID(), name: "f", checkedAt: Date()).links
        #expect(links.map(\.busyEvents) == [3, 0])
        let none = FamilyConnectivity(members: members, views: ["a@h": FamilyConnectivity.View(peers: ["b@h"])]).response(family: UUID(), name: "f", checkedAt: Date()).links
        #expect(none.map(\.busyEvents) == [nil])
    }
}
