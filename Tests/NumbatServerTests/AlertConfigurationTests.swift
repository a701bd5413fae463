import Foundation
import NumbatServer
import NumbatServices
import Testing

/// Alert delivery's timing as the configuration reads it: `alert_*` file keys, `NUMBAT_ALERT_*`,
/// and the flags' overrides, checked one by one and together.
@Suite("alert delivery configuration")
struct AlertConfigurationTests {
    @Test("the defaults stay unless the file, the environment or the flags set them, later ones winning")
    func sources() throws {
        #expect(try ServerConfiguration.load(file: nil, environment: [:], flags: .init()).alerts == AlertsService.Settings())
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-config-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"""
            {"alert_retry_initial_seconds": 0.5, "alert_retry_max_seconds": 60, "alert_retry_max_attempts": 4,
             "alert_lease_seconds": 30, "alert_poll_seconds": 0.25, "alert_send_timeout_seconds": 5}
            """#.utf8).write(to: file)
        let fromFile = try ServerConfiguration.load(file: file.path, environment: [:], flags: .init()).alerts
        #expect(fromFile.retry.initialSeconds == 0.5 && fromFile.retry.maximumSeconds == 60 && fromFile.retry.maximumAttempts == 4)
        #expect(fromFile.leaseSeconds == 30 && fromFile.pollSeconds == 0.25 && fromFile.sendTimeoutSeconds == 5)
        #expect(fromFile.retry.delay(afterAttempts: 3) == 2)

        let environment = ["NUMBAT_ALERT_RETRY_MAX_ATTEMPTS": "7", "NUMBAT_ALERT_LEASE_SECONDS": "45"]
        let fromEnvironment = try ServerConfiguration.load(file: file.path, environment: environment, flags: .init()).alerts
        #expect(fromEnvironment.retry.maximumAttempts == 7 && fromEnvironment.leaseSeconds == 45 && fromEnvironment.retry.initialSeconds == 0.5)

        let flags = ServerConfiguration.Overrides(alertRetryInitialSeconds: 1, alertRetryMaximumAttempts: 2, alertSendTimeoutSeconds: 10)
        let fromFlags = try ServerConfiguration.load(file: file.path, environment: environment, flags: flags).alerts
        #expect(fromFlags.retry.initialSeconds == 1 && fromFlags.retry.maximumAttempts == 2 && fromFlags.sendTimeoutSeconds == 10)
        #expect(fromFlags.leaseSeconds == 45 && fromFlags.retry.maximumSeconds == 60 && fromFlags.pollSeconds == 0.25)
    }

    @Test("values out of range, a maximum below the initial delay and a lease no longer than a send are refused by name")
    func invalid() throws {
        let refused: [(ServerConfiguration.Overrides, String)] = [
            (.init(alertRetryInitialSeconds: 0), "alert_retry_initial_seconds"),
            (.init(alertRetryMaximumSeconds: -1), "alert_retry_max_seconds"),
            (.init(alertRetryMaximumAttempts: 0), "alert_retry_max_attempts"),
            (.init(alertLeaseSeconds: 0.5), "alert_lease_seconds"),
            (.init(alertPollSeconds: 0), "alert_poll_seconds"),
            (.init(alertSendTimeoutSeconds: 601), "alert_send_timeout_seconds"),
            (.init(alertRetryInitialSeconds: 10, alertRetryMaximumSeconds: 5), "must be at least alert_retry_initial_seconds"),
            (.init(alertLeaseSeconds: 15), "must be longer than alert_send_timeout_seconds"),
            (.init(alertLeaseSeconds: 20, alertSendTimeoutSeconds: 30), "a claim must outlast a send"),
        ]
        for (flags, message) in refused {
            do {
                _ = try ServerConfiguration.load(file: nil, environment: [:], flags: flags)
                Issue.record("\(flags) was accepted")
            } catch {
                #expect(error is ConfigurationError && "\(error)".contains(message), "\(error)")
            }
        }
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.load(file: nil, environment: ["NUMBAT_ALERT_POLL_SECONDS": "often"], flags: .init())
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-config-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"{"alert_retry_max_attempts": "many"}"#.utf8).write(to: file)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: file.path, environment: [:], flags: .init()) }
    }
}
