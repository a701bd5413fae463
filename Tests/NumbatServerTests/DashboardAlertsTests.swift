import Foundation
import HummingbirdTesting
import NumbatTestSupport
import Testing

/// The dashboard's Alerts tab in headless Chromium against a real server: a webhook receiver
/// added through the form (its secret masked from then on), its test alert arriving signed at a
/// real HTTP receiver, a rule added, and the test's delivery listed.
@Suite("dashboard: alerts in headless Chromium", .serialized, .requires(.chromium))
struct DashboardAlertsTests {
    @Test("add a webhook receiver (secret masked), send it a test alert (signed, received), add a rule, see the delivery")
    func alerts() async throws {
        let key = "dashboard-key-\(UUID().uuidString)"
        let receiver = WebhookReceiver(key: key, port: try freePort(onAll: ["127.0.0.1"]))
        try await receiver.start()
        do {
            try await TestServer.with(.live, configure: { $0.requireToken = true }) { server, client in
                let port = try #require(client.port)
                try await Browser.with { browser in
                    try await DashboardTests.signIn(browser, port: port, token: server.adminToken)
                    try await browser.open("http://127.0.0.1:\(port)/dashboard/#/alerts")
                    try await browser.click("#add-receiver")
                    try await browser.type("dialog[open] form input[name=name]", "hook")
                    try await browser.type("dialog[open] form input[name=url]", "http://127.0.0.1:\(receiver.port)/hook")
                    try await browser.type("dialog[open] form input[name=secret]", key)
                    try await browser.click("dialog[open] form button[type=submit]")
                    let row = "#alert-receivers tr"
                    try await browser.wait(for: "the receiver, its secret masked", """
                        return [...document.querySelectorAll(arguments[0])].some(r => r.textContent.includes('hook') && r.textContent.includes('********'))
                        """, [row])
                    let page = try await browser.run("return document.body.innerHTML") as? String ?? ""
                    #expect(!page.contains(key), "the key is not in the page")

                    try await browser.click("#alert-receivers tr button.test")
                    try await browser.wait(for: "the test's toast", "return [...document.querySelectorAll('.toast')].some(t => t.textContent.includes('Test alert delivered'))")
                    #expect(receiver.accepted.count == 1 && receiver.accepted.first?.object["event"] as? String == "test")

                    try await browser.click("#add-rule")
                    try await browser.type("dialog[open] form input[name=name]", "everything")
                    try await browser.type("dialog[open] form input[name=receivers]", "hook")
                    try await browser.click("dialog[open] form button[type=submit]")
                    try await browser.wait(for: "the rule", "return document.querySelector('#alert-rules') && document.querySelector('#alert-rules').textContent.includes('everything')")
                    try await browser.wait(for: "the delivered test", "return document.querySelector(\"#alert-deliveries tr[data-status='delivered']\") !== null")
                    try await DashboardTests.screenshot(browser, "alerts")
                    let rules = try await client.call(.get, "/api/alerts/rules", token: server.adminToken)["rules"] as? [[String: Any]] ?? []
                    #expect(rules.count == 1 && rules.first?["name"] as? String == "everything")
                }
            }
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }
}
