import Foundation
import HummingbirdTesting
import NumbatTestSupport
import Testing

/// The dashboard's Tracing tab in headless Chromium against a real server and node: a call trace
/// started from the form, its events shown live, the session listed as ended at its limit; a
/// long one stopped with its button.
@Suite("dashboard: tracing in headless Chromium", .serialized, .requires(.chromium))
struct DashboardTracingTests {
    @Test("start a call trace from the form: its events appear and the session ends at max_count; a running one stopped from its row")
    func tracing() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with(.live, configure: { $0.requireToken = true }) { server, client in
                let port = try #require(client.port)
                let node = try await MetricsTests.add(peer, to: server, client: client)
                _ = try await TracingTests.eval(peer, TracingTests.load)
                try await Browser.with { browser in
                    try await DashboardTests.signIn(browser, port: port, token: server.adminToken)
                    try await browser.open("http://127.0.0.1:\(port)/dashboard/#/tracing")
                    try await browser.click("#start-trace")
                    try await browser.fill("dialog[open] form select[name=target]", "node:\(node)")
                    try await browser.type("dialog[open] form input[name=mfa]", "lists:seq/2")
                    try await browser.type("dialog[open] form input[name=match_spec]", "return_trace")
                    try await browser.fill("dialog[open] form input[name=max_count]", "40")
                    try await browser.fill("dialog[open] form input[name=max_rate]", "100000")
                    try await browser.click("dialog[open] form button[type=submit]")
                    try await browser.wait(for: "40 events shown", "return document.querySelectorAll('#trace-events-table tbody tr[data-id]').length === 40")
                    try await browser.wait(for: "the session ended at its limit", """
                        return [...document.querySelectorAll('#trace-sessions tbody tr')].some(r => r.dataset.state === 'ended' && r.textContent.includes('(max_count)'))
                        """)
                    let text = try await browser.text("#trace-events-table")
                    #expect(text.contains("lists:seq(1, 3)") && text.contains("return_from"), "\(text.prefix(500))")
                    try await DashboardTests.screenshot(browser, "tracing")

                    try await browser.click("#start-trace")
                    try await browser.fill("dialog[open] form select[name=target]", "node:\(node)")
                    try await browser.type("dialog[open] form input[name=mfa]", "numbat_test_peer:ready/0")
                    try await browser.fill("dialog[open] form input[name=duration_s]", "600")
                    try await browser.click("dialog[open] form button[type=submit]")
                    try await browser.click("#trace-sessions tr[data-state=running] button.stop")
                    try await browser.wait(for: "the stopped session", """
                        return [...document.querySelectorAll('#trace-sessions tbody tr')].some(r => r.textContent.includes('numbat_test_peer:ready/0') && r.textContent.includes('(stopped)'))
                        """)
                }
                let sessions = try await client.call(.get, "/api/trace/sessions", token: server.adminToken)["sessions"] as? [[String: Any]] ?? []
                #expect(sessions.count == 2 && sessions.allSatisfy { $0["state"] as? String == "ended" }, "\(sessions)")
                _ = try await TracingTests.eval(peer, TracingTests.unload)
            }
        }
    }
}
