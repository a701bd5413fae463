import Foundation
import NumbatTestSupport
import Testing

extension Requirement {
    /// Debian's sqlite3, whose `PRAGMA integrity_check` checks the store after each kill.
    static let sqlite3 = Requirement("Debian's sqlite3 (scripts/install-test-deps.sh)") {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")
    }
}

/// Issue 17 item 3: kill -9 of `numbat serve` under heavy ingest loses nothing the API
/// acknowledged (`KillCampaign`, `KillLedger`). In CI: 20 kills on SQLite (4 of them during a
/// deployment) with a short ingest between kills; 5 on PostgreSQL (no deployment) on demand. A longer campaign:
/// `NUMBAT_KILL_CAMPAIGN_KILLS=100 NUMBAT_KILL_CAMPAIGN_INGEST_MS=5000 CI=true swift test
/// --filter KillCampaignTests` (docs/reliability.md).
@Suite("killed servers lose nothing", .serialized, .requires(.otp(.otp25), .namespaceHosts, .rebar3, .sqlite3))
struct KillCampaignTests {
    static func expectNothingLost(_ report: KillCampaign.Report, kills: Int) {
        print("kill campaign figures:\n\(report.summary)")
        #expect(report.kills == kills)
        #expect(report.losses.isEmpty, "lost after a kill:\n\(report.losses.prefix(50).joined(separator: "\n"))")
        #expect(report.integrity.isEmpty, "the store failed its integrity check:\n\(report.integrity.joined(separator: "\n"))")
        #expect(report.deploymentProblems.isEmpty, "\(report.deploymentProblems.joined(separator: "\n"))")
        #expect(report.distinct.points > 0 && report.distinct.notifications > 0 && report.distinct.alarmTransitions > 0
                && report.distinct.acknowledgements > 0 && report.distinct.auditEntries > 0, "every kind of item was checked: \(report.summary)")
    }

    @Test("SIGKILL of numbat serve (SQLite) 20 times at random moments during metrics of 43 nodes, a log flood, alarms raised, cleared and acknowledged, audited rpcs, and 4 deployments: every acknowledged point, notification, alarm transition and audit entry is there after each restart, the store passes PRAGMA integrity_check, each deployment ends resumed or failed with nothing orphaned")
    func sqlite() async throws {
        let settings = KillCampaign.Settings.fromEnvironment(kills: 20, deploymentEvery: 5)
        let report = try await KillCampaign(settings: settings, store: .sqlite).run()
        Self.expectNothingLost(report, kills: settings.kills)
        #expect(report.deployments.count == settings.deployments)
        #expect(report.deployments.count - report.settledBeforeKill >= settings.deployments / 2, "most deployments were in progress at their kill: \(report.deployments)")
    }
}

/// The campaign on PostgreSQL. Not in CI yet (scripts/test.sh leaves this suite out, rather than
/// have it skipped): it found losses it does not explain (a run of 10 kills lost, at its last
/// kill, a whole collection of 39 nodes 3.3-3.6 s old; an earlier run of the server crashed after
/// a restart), left to investigate (docs/reliability.md). Run it with
/// `CI=true swift test --filter KillCampaignPostgresTests`.
@Suite("killed servers lose nothing, on PostgreSQL", .serialized, .requires(.otp(.otp25), .namespaceHosts, .rebar3, .sqlite3))
struct KillCampaignPostgresTests {
    @Test("SIGKILL of numbat serve on PostgreSQL 5 times under the same load: nothing acknowledged is lost, pg_amcheck finds nothing",
          .requires(.postgres))
    func postgres() async throws {
        var settings = KillCampaign.Settings.fromEnvironment(kills: 5, deploymentEvery: 0)
        settings.kills = ProcessInfo.processInfo.environment["NUMBAT_KILL_CAMPAIGN_POSTGRES_KILLS"].flatMap(Int.init) ?? 5
        let postgres = try await PostgresServer.start()
        do {
            let report = try await KillCampaign(settings: settings, store: .postgres(postgres)).run()
            await postgres.stop()
            KillCampaignTests.expectNothingLost(report, kills: settings.kills)
        } catch {
            await postgres.stop()
            throw error
        }
    }
}
