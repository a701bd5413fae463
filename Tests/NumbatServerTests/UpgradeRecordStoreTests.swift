import Foundation
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// A rolling upgrade's record (its plan inside) in both stores: what a restart reads back.
@Suite("rolling upgrade records: SQLite and PostgreSQL")
struct UpgradeRecordStoreTests {
    @Test("an upgrade round-trips with its plan, is listed by family, and a restart finds its node in flight to roll back", arguments: StoreBackend.allCases)
    func roundTrip(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let records = OrchestrationRecords(store: fixture.store)
            let (a, b, family, old, new) = (UUID(), UUID(), UUID(), UUID(), UUID())
            var plan = RollingUpgradePlan(nodes: [a, b], batchSize: 1)
            #expect(plan.next() == .upgrade([a]))
            plan.record(a, .phase(.installing))
            plan.record(a, .phase(.switching, method: "relup"))
            let record = UpgradeRecord(id: UUID(), familyID: family, releaseID: new, version: "0.2.0", plan: plan,
                                       fromReleases: [a.uuidString.lowercased(): old, b.uuidString.lowercased(): old], runner: "numbat@host",
                                       createdAt: StoreConformanceTests.t0, updatedAt: StoreConformanceTests.t0)
            try await records.save(record)
            #expect(try await records.load(UpgradeRecord.self, id: record.id) == record)
            #expect(try await records.all(UpgradeRecord.self, parent: family).map(\.id) == [record.id])
            #expect(try await records.all(UpgradeRecord.self, parent: UUID()).isEmpty)

            // The server restarts: the stored plan says what to roll back.
            var loaded = try #require(try await records.load(UpgradeRecord.self, id: record.id))
            #expect(loaded.fromRelease(a) == old)
            loaded.plan.interrupted("the server running the upgrade stopped")
            loaded.runner = nil
            try await records.save(loaded)
            var again = try #require(try await records.load(UpgradeRecord.self, id: record.id))
            #expect(again.plan.node(a)?.phase == .failed && again.plan.node(a)?.failedIn == .switching && again.runner == nil)
            #expect(again.plan.next() == .rollBack([a]))
            try await records.delete(UpgradeRecord.self, id: record.id)
            #expect(try await records.load(UpgradeRecord.self, id: record.id) == nil)
        }
    }
}
