import Foundation
import HummingbirdTesting
import NumbatTestSupport
import Testing

/// The dashboard's first page and its Metrics tab as a first-day user meets them (issue 20), in
/// headless Chromium against a real server managing a real OTP node. With
/// NUMBAT_SCREENSHOTS=docs/screenshots the test leaves `summary.png` there.
@Suite("dashboard overview in headless Chromium", .serialized, .requires(.chromium))
struct DashboardSummaryTests {
    @Test("the landing page summarises nodes by state, active alarms by severity, recent errors and the busiest nodes; Metrics opens on the node with memory and processes")
    func overview() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with(.live, metricsInterval: 1) { server, client in
                let port = try #require(client.port)
                let id = try await MetricsTests.add(peer, to: server, client: client)
                // Something for each card: an alarm, an error, collected metrics.
                _ = try await NotificationsTests.eval(peer, #"{ok, _} = application:ensure_all_started(sasl), alarm_handler:set_alarm({numbat_overview, "raised for the overview"})."#)
                // SASL may start after the alarm agent: the agent subscribes at the node's next
                // check, up to 1.25 intervals (15 s) after its first.
                let raised = try await eventually(within: .seconds(60)) {
                    let alarms = try await client.call(.get, "/api/alarms?state=active", token: server.adminToken)["alarms"] as? [[String: Any]] ?? []
                    return alarms.contains { $0["key"] as? String == "sasl:numbat_overview" }
                }
                #expect(raised)
                var logged = false
                for attempt in 0..<100 where !logged {
                    // The log agent is being injected: log until the error is stored.
                    _ = try await NotificationsTests.eval(peer, #"logger:error("overview sees this: ~p", [\#(attempt)])."#)
                    logged = try await eventually(within: .seconds(1)) {
                        let page = try await client.call(.get, "/api/notifications?severity=error&q=overview%20sees%20this", token: server.adminToken)
                        return (page["notifications"] as? [Any])?.isEmpty == false
                    }
                }
                #expect(logged)
                let collected = try await eventually(within: .seconds(20)) {
                    let top = try await client.call(.get, "/api/metrics/top", token: server.adminToken)
                    let rankings = top["rankings"] as? [[String: Any]] ?? []
                    return rankings.first { $0["metric"] as? String == "memory_total" }.map { ($0["nodes"] as? [[String: Any]])?.first?["node"] as? String == id } ?? false
                }
                #expect(collected)

                try await Browser.with { browser in
                    try await browser.open("http://127.0.0.1:\(port)/")
                    try await browser.wait(for: "the overview", "return document.body.dataset.ready === 'true' && document.getElementById('view').dataset.loaded === 'true'")
                    let active = try await browser.run("return document.querySelector('#tabs a.active').dataset.tab") as? String
                    #expect(active == "summary")
                    let nodes = try await browser.run("""
                        return Object.fromEntries([...document.querySelectorAll('#summary-nodes .tile')].map(t => [t.querySelector('.label').textContent, Number(t.dataset.count)]));
                        """) as? [String: Int] ?? [:]
                    #expect(nodes["UP"] == 1 && nodes["DOWN"] == 0, "\(nodes)")
                    let alarms = try await browser.run("""
                        return Object.fromEntries([...document.querySelectorAll('#summary-alarms .tile')].map(t => [t.querySelector('.label').textContent, Number(t.dataset.count)]));
                        """) as? [String: Int] ?? [:]
                    #expect(alarms["major"] == 1 && alarms.values.reduce(0, +) == 1, "\(alarms)")
                    let alarmsText = try await browser.text("#summary-alarms")
                    #expect(!alarmsText.contains("null") && !alarmsText.contains("undefined"), "\(alarmsText)")
                    let errors = try await browser.text("#summary-errors")
                    #expect(errors.contains("overview sees this") && errors.contains(peer.name.description), "\(errors)")
                    let memory = try await browser.text("#summary-busiest .ranking[data-metric='memory_total']")
                    #expect(memory.contains(peer.name.description) && memory.range(of: #"\d+\.\d MiB"#, options: .regularExpression) != nil, "\(memory)")
                    let busiest = try await browser.text("#summary-busiest")
                    #expect(busiest.contains("CPU"), "\(busiest)")
                    try await DashboardTests.screenshot(browser, "summary")

                    // Metrics with nothing selected in the tree: the node, memory and processes,
                    // one chart per unit, each with points.
                    try await browser.open("http://127.0.0.1:\(port)/dashboard/#/metrics")
                    try await browser.wait(for: "two charts with points", timeout: .seconds(30), """
                        const paths = [...document.querySelectorAll('#metric-chart path.series')];
                        if (paths.length === 2 && paths.every(p => (p.getAttribute('d').match(/L/g) || []).length >= 1)) return true;
                        const again = document.getElementById('metric-refresh'); if (again) again.click();
                        return false;
                        """)
                    let chosen = try await browser.run("""
                        return { nodes: [...document.getElementById('node-picker').selectedOptions].map(o => o.value),
                                 metrics: [...document.getElementById('metric-picker').selectedOptions].map(o => o.value),
                                 text: document.getElementById('metric-chart').textContent };
                        """) as? [String: Any] ?? [:]
                    #expect(chosen["nodes"] as? [String] == [id])
                    #expect(chosen["metrics"] as? [String] == ["memory_total", "process_count"])
                    #expect((chosen["text"] as? String)?.contains("raw") == true, "\(chosen)")

                    // A busiest node's link opens its metrics.
                    try await browser.open("http://127.0.0.1:\(port)/dashboard/#/summary")
                    try await browser.click("#summary-busiest .ranking[data-metric='memory_total'] li a")
                    try await browser.wait(for: "the node's metrics", "return location.hash === '#/metrics' && window.numbat.store.selected === arguments[0]", [id])
                }
                _ = try await NotificationsTests.eval(peer, #"alarm_handler:clear_alarm(numbat_overview)."#)
            }
        }
    }

    @Test("with no node yet the overview offers to add one, and Metrics says where to add it")
    func empty() async throws {
        try await TestServer.with(.live) { server, client in
            let port = try #require(client.port)
            try await Browser.with { browser in
                try await browser.open("http://127.0.0.1:\(port)/")
                try await browser.wait(for: "the overview", "return document.getElementById('view').dataset.loaded === 'true'")
                let text = try await browser.text("#view")
                #expect(text.contains("No managed node yet") && text.contains("No active alarms") && text.contains("No errors logged"), "\(text)")
                _ = try await browser.element("#summary-add #add-node-name")
                try await browser.open("http://127.0.0.1:\(port)/dashboard/#/metrics")
                try await browser.wait(for: "the hint", "return (document.getElementById('metric-chart') || {}).textContent?.includes('No managed node yet')")
            }
        }
    }
}
