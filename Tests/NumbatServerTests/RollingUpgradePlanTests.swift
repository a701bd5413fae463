import Foundation
@testable import NumbatServices
import Testing

/// The order of a rolling upgrade (`RollingUpgradePlan`), with no node and no I/O.
@Suite("rolling upgrade plan")
struct RollingUpgradePlanTests {
    let a = UUID(), b = UUID(), c = UUID(), d = UUID(), e = UUID()

    func upgrade(_ plan: inout RollingUpgradePlan, _ ids: [UUID], method: String = "relup") {
        for id in ids {
            plan.record(id, .phase(.installing))
            plan.record(id, .phase(.switching, method: method))
            plan.record(id, .phase(.checking))
            plan.record(id, .phase(.upgraded))
        }
    }

    @Test("one node at a time, in order, then succeeded; the plan survives a JSON round trip at every step")
    func oneAtATime() throws {
        var plan = RollingUpgradePlan(nodes: [a, b, c], batchSize: 1)
        for id in [a, b, c] {
            #expect(plan.next() == .upgrade([id]))
            upgrade(&plan, [id])
            plan = try JSONDecoder().decode(RollingUpgradePlan.self, from: JSONEncoder().encode(plan))
        }
        #expect(plan.next() == .finish(.succeeded))
        #expect(plan.state == .succeeded && plan.reason == nil)
        #expect(plan.nodes.allSatisfy { $0.phase == .upgraded && $0.method == "relup" })
        #expect(plan.next() == .finish(.succeeded), "a finished plan stays finished")
    }

    @Test("batches of two, the last one short")
    func batches() {
        var plan = RollingUpgradePlan(nodes: [a, b, c, d, e], batchSize: 2)
        #expect(plan.next() == .upgrade([a, b]))
        upgrade(&plan, [a, b])
        #expect(plan.next() == .upgrade([c, d]))
        upgrade(&plan, [c, d])
        #expect(plan.next() == .upgrade([e]))
        upgrade(&plan, [e])
        #expect(plan.next() == .finish(.succeeded))
        #expect(RollingUpgradePlan(nodes: [a], batchSize: 0).batchSize == 1, "a batch is at least one node")
    }

    @Test("a node that fails its checks stops the upgrade: it is rolled back, later nodes are never touched, the upgrade fails with its reason")
    func failureRollsBack() {
        var plan = RollingUpgradePlan(nodes: [a, b, c], batchSize: 1)
        #expect(plan.next() == .upgrade([a]))
        plan.record(a, .phase(.installing))
        plan.record(a, .phase(.switching, method: "restart"))
        plan.record(a, .phase(.checking))
        plan.record(a, .failed("checks failed: the node is DOWN"))
        #expect(plan.node(a)?.failedIn == .checking)
        #expect(plan.next() == .rollBack([a]))
        #expect(plan.node(a)?.phase == .rollingBack)
        plan.record(a, .rolledBack)
        #expect(plan.next() == .finish(.failed))
        #expect(plan.state == .failed)
        #expect(plan.reason == "\(a.uuidString.lowercased()): checks failed: the node is DOWN")
        #expect(plan.nodes.map(\.phase) == [.rolledBack, .pending, .pending])
    }

    @Test("in a batch, a failure rolls back every node of that batch, the upgraded ones too, never earlier batches")
    func batchRollback() {
        var plan = RollingUpgradePlan(nodes: [a, b, c, d], batchSize: 2)
        #expect(plan.next() == .upgrade([a, b]))
        upgrade(&plan, [a, b])
        #expect(plan.next() == .upgrade([c, d]))
        upgrade(&plan, [c])
        plan.record(d, .phase(.installing))
        plan.record(d, .failed("cannot upload"))
        #expect(plan.node(d)?.failedIn == .installing, "failed before it was touched: its rollback needs no restart")
        #expect(plan.next() == .rollBack([c, d]))
        plan.record(c, .rolledBack)
        plan.record(d, .rollbackFailed("host gone"))
        #expect(plan.next() == .finish(.failed))
        #expect(plan.nodes.map(\.phase) == [.upgraded, .upgraded, .rolledBack, .rollbackFailed])
        #expect(plan.node(d)?.message == "cannot upload; rollback: host gone")
    }

    @Test("a restart mid-way: nodes in flight count as failed and are rolled back, a rollback cut short runs again")
    func interrupted() throws {
        var plan = RollingUpgradePlan(nodes: [a, b, c], batchSize: 1)
        #expect(plan.next() == .upgrade([a]))
        upgrade(&plan, [a])
        #expect(plan.next() == .upgrade([b]))
        plan.record(b, .phase(.installing))
        plan.record(b, .phase(.switching, method: "relup"))
        var stored = try JSONDecoder().decode(RollingUpgradePlan.self, from: JSONEncoder().encode(plan))
        stored.interrupted("the server stopped")
        #expect(stored.node(b)?.phase == .failed && stored.node(b)?.failedIn == .switching)
        #expect(stored.reason?.contains("interrupted during switching: the server stopped") == true)
        #expect(stored.next() == .rollBack([b]))
        // Stopped again during the rollback: it is run again.
        stored.interrupted("the server stopped again")
        #expect(stored.next() == .rollBack([b]))
        stored.record(b, .rolledBack)
        #expect(stored.next() == .finish(.failed))
        #expect(stored.nodes.map(\.phase) == [.upgraded, .rolledBack, .pending])
    }

    @Test("phases keep their wire words")
    func wireWords() {
        #expect(RollingUpgradePlan.Phase.allCases.map(\.rawValue) == ["pending", "installing", "switching", "checking", "upgraded", "failed",
                                                                      "rolling_back", "rolled_back", "rollback_failed"])
    }
}
