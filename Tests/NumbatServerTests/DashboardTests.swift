import Foundation
import HummingbirdTesting
import NumbatProviders
import NumbatTestSupport
import Testing

/// The web dashboard in headless Chromium (Debian's chromium and chromedriver, over WebDriver)
/// against a real server managing real OTP nodes. With NUMBAT_SCREENSHOTS=DIR the tests leave
/// screenshots there (docs/screenshots holds the committed ones).
@Suite("dashboard in headless Chromium", .serialized, .requires(.chromium))
struct DashboardTests {
    static func screenshot(_ browser: Browser, _ name: String) async throws {
        guard let directory = ProcessInfo.processInfo.environment["NUMBAT_SCREENSHOTS"] else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try await browser.screenshot(to: URL(fileURLWithPath: directory).appendingPathComponent("\(name).png"))
    }

    /// Opens the dashboard of a server that needs tokens even from loopback, and signs in.
    static func signIn(_ browser: Browser, port: Int, token: String) async throws {
        try await browser.open("http://127.0.0.1:\(port)/")
        try await browser.wait(for: "the sign-in dialog", "return document.getElementById('login').open")
        try await browser.type("#login-token", "nbt_not-a-token")
        try await browser.click("#login-form button[type=submit]")
        try await browser.wait(for: "the refusal", "return document.getElementById('login-error').textContent")
        try await browser.type("#login-token", token)
        try await browser.click("#login-form button[type=submit]")
        try await browser.wait(for: "the dashboard", "return document.body.dataset.ready === 'true' && !document.getElementById('login').open")
    }

    @Test("a script module that fails to arrive (as a network change aborts it) reloads the page until it does; one that never does is said so")
    func failedModuleLoad() async throws {
        try await TestServer.with(.live, configure: { $0.requireToken = true }) { server, client in
            let port = try #require(client.port)
            try await Browser.with { browser in
                try await browser.devTools("Network.enable")
                // No cache, or the second load would take the module from it past the block.
                try await browser.devTools("Network.setCacheDisabled", ["cacheDisabled": true])
                // Blocked, the view fails to load (net::ERR_BLOCKED_BY_CLIENT), and with it the
                // whole module graph; the page reloads itself, and once unblocked, starts.
                try await browser.devTools("Network.setBlockedURLs", ["urls": ["*/dashboard/js/views/alerts.js"]])
                try await browser.open("http://127.0.0.1:\(port)/")
                try await browser.wait(for: "a reload after the failed load", "return sessionStorage.getItem('numbat-load-attempts')")
                try await browser.devTools("Network.setBlockedURLs", ["urls": [String]()])
                try await browser.wait(for: "the sign-in dialog after the reloads", "return document.getElementById('login').open")
                try await browser.wait(for: "the attempts forgotten once loaded", "return sessionStorage.getItem('numbat-load-attempts') === null")
            }
            // Blocked for good (a browser of its own): three reloads, then the page says it could not load.
            try await Browser.with { browser in
                try await browser.devTools("Network.enable")
                try await browser.devTools("Network.setCacheDisabled", ["cacheDisabled": true])
                try await browser.devTools("Network.setBlockedURLs", ["urls": ["*/dashboard/js/views/alerts.js"]])
                try await browser.open("http://127.0.0.1:\(port)/dashboard/#/summary")
                let said = try await browser.wait(for: "the could-not-load message", "return document.getElementById('view').textContent.includes('could not load') && document.getElementById('view').textContent")
                #expect((said as? String)?.contains("Reload the page to try again") == true, "\(said)")
                #expect(try await browser.run("return sessionStorage.getItem('numbat-load-attempts')") is NSNull, "the count starts again for the next load")
            }
        }
    }

    @Test("sign in; add a node (one without EPMD, with its port) and see it UP; a metric chart with points; an error's popup and row; an alarm acknowledged in the page and cleared on the node; 1,000 nodes in the tree")
    func monitoring() async throws {
        // The node runs as containers run them: no EPMD (the one it would register with is a
        // port where none listens), on a fixed distribution port typed into the form.
        let distributionPort = try freePort(onAll: ["127.0.0.1"])
        let nowhere = try freePort(onAll: ["127.0.0.1"])
        try await TestNode.with(release: .otp25, environment: ["ERL_EPMD_PORT": "\(nowhere)"],
                                extraArgs: ["-start_epmd", "false", "-erl_epmd_port", "\(distributionPort)"]) { peer in
            try await TestServer.with(.live, metricsInterval: 1, configure: { $0.requireToken = true }) { server, client in
                let port = try #require(client.port)
                try await Browser.with { browser in
                    try await Self.signIn(browser, port: port, token: server.adminToken)

                    // Topology: add the node; it turns UP in the tree.
                    try await browser.type("#add-node-name", peer.name.description)
                    try await browser.type("#add-node-cookie", peer.cookie)
                    try await browser.type("#add-node-port", "\(distributionPort)")
                    try await browser.click("#add-node-submit")
                    let row = "#tree .tree-node[data-name='\(peer.name.description)'][data-state='UP']"
                    try await browser.wait(for: "the node UP in the tree", "return document.querySelector(arguments[0]) !== null", [row])
                    let info = try await browser.text("#node-info")
                    #expect(info.contains(peer.name.description) && info.contains("OTP") && info.contains("\(distributionPort) (no EPMD)"), "\(info)")
                    try await browser.wait(for: "the node graph", "return document.querySelector('#node-graph g[data-name]') !== null")
                    try await Self.screenshot(browser, "topology")

                    // Metrics: memory_total over time, with points once collections are stored.
                    try await browser.open("http://127.0.0.1:\(port)/dashboard/#/metrics")
                    try await browser.wait(for: "a chart with points", timeout: .seconds(30), """
                        const path = document.querySelector('#metric-chart path.series');
                        if (path && (path.getAttribute('d').match(/L/g) || []).length >= 1) return true;
                        const again = document.getElementById('metric-refresh'); if (again) again.click();
                        return false;
                        """)
                    try await Self.screenshot(browser, "metrics")

                    // Notifications: logger:error pops up on any tab, and is in the table.
                    try await browser.open("http://127.0.0.1:\(port)/dashboard/#/notifications")
                    _ = try await browser.element("#notifications-table")
                    _ = try await NotificationsTests.eval(peer, #"logger:error("dashboard sees this: ~p", [42])."#)
                    try await browser.wait(for: "the popup", "return [...document.querySelectorAll('.toast')].some(t => t.textContent.includes('dashboard sees this: 42'))")
                    try await browser.wait(for: "the table row", "return document.getElementById('notifications-table').textContent.includes('dashboard sees this: 42')")
                    try await Self.screenshot(browser, "notifications")

                    // Alarms: raised on the node, acknowledged here with a comment, cleared on the node.
                    _ = try await NotificationsTests.eval(peer, #"{ok, _} = application:ensure_all_started(sasl), alarm_handler:set_alarm({numbat_dashboard, "raised for the dashboard"})."#)
                    try await browser.open("http://127.0.0.1:\(port)/dashboard/#/alarms")
                    let alarm = "#alarms-table tr[data-key='sasl:numbat_dashboard']"
                    try await browser.wait(for: "the new alarm", "return document.querySelector(arguments[0] + \"[data-state='new']\") !== null", [alarm])
                    try await browser.click("\(alarm) button.ack")
                    try await browser.type("dialog[open] form input[name=comment]", "looking into it")
                    try await browser.click("dialog[open] form button[type=submit]")
                    try await browser.wait(for: "the acknowledged alarm", "return document.querySelector(arguments[0] + \"[data-state='acknowledged']\") !== null", [alarm])
                    try await Self.screenshot(browser, "alarms")
                    _ = try await NotificationsTests.eval(peer, #"alarm_handler:clear_alarm(numbat_dashboard)."#)
                    try await browser.wait(for: "the alarm gone from the active ones", "return document.querySelector('#alarms-table') && document.querySelector(arguments[0]) === null", [alarm])
                    let stored = try await client.call(.get, "/api/alarms?state=cleared", token: server.adminToken)["alarms"] as? [[String: Any]] ?? []
                    let history = stored.first { $0["key"] as? String == "sasl:numbat_dashboard" }
                    #expect(history?["acknowledged_by"] != nil, "acknowledged through the page: \(String(describing: history))")

                    // A thousand nodes in the tree: drawn in one frame, without freezing the page.
                    let milliseconds = try await browser.run("""
                        const store = window.numbat.store;
                        for (let i = 0; i < 1000; i++) store.nodes.set('fake-' + i, {id: 'fake-' + i, name: 'load' + i + '@10.0.' + (i >> 8) + '.' + (i & 255), state: i % 7 ? 'UP' : 'DOWN', family_id: null});
                        const started = performance.now();
                        store.notify('structure');
                        return new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - started))));
                        """) as? Double ?? .infinity
                    let rows = try await browser.run("return document.querySelectorAll('#tree .tree-node').length") as? Int ?? 0
                    // Drawn at all, and the page not frozen: a wide bound (a loaded CI machine is no
                    // place to time a frame); the time is in the message.
                    #expect(rows == 1001 && milliseconds < 30_000, "\(rows) rows in \(milliseconds) ms")
                }
            }
        }
    }

    @Test("add a node on TLS distribution with its certificate files: a rogue certificate's refusal is shown, the right ones bring it UP; its notification level set in its card")
    func tlsNode() async throws {
        let certificates = try await TLSCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await TestNode.with(release: .otp25, extraArgs: certificates.nodeArguments) { peer in
            try await TestServer.with(.live, configure: { $0.requireToken = true }) { server, client in
                let port = try #require(client.port)
                try await Browser.with { browser in
                    try await Self.signIn(browser, port: port, token: server.adminToken)
                    try await browser.click("#add-node-tls summary")
                    func add(_ certificate: String) async throws {
                        try await browser.type("#add-node-name", peer.name.description)
                        try await browser.type("#add-node-cookie", peer.cookie)
                        try await browser.type("#add-node-tls-cert", certificates.path("\(certificate).pem"))
                        try await browser.type("#add-node-tls-key", certificates.path("\(certificate).key"))
                        try await browser.type("#add-node-tls-ca", certificates.path("ca.pem"))
                        try await browser.click("#add-node-submit")
                    }
                    try await add("rogue")
                    let refusal = try await browser.wait(for: "the refusal", """
                        const e = document.querySelector('#add-node + .error');
                        return e && !e.hidden && e.textContent.includes("refused Numbat's certificate") ? e.textContent : null
                        """)
                    #expect("\(refusal)".contains("TLS"), "\(refusal)")
                    let stored = try await client.call(.get, "/api/topo/nodes", token: server.adminToken).object["nodes"] as? [Any]
                    #expect(stored?.isEmpty == true, "\(String(describing: stored))")
                    try await add("numbat")
                    let row = "#tree .tree-node[data-name='\(peer.name.description)'][data-state='UP']"
                    try await browser.wait(for: "the TLS node UP in the tree", "return document.querySelector(arguments[0]) !== null", [row])

                    // Its notification level, set in the node's card (seed 4.2.3).
                    try await browser.wait(for: "the level read", "const s = document.getElementById('node-log-level'); return s && !s.disabled && s.value === 'error'")
                    try await browser.run("const s = document.getElementById('node-log-level'); s.value = 'warning'; s.dispatchEvent(new Event('change'));")
                    let nodes = try await client.call(.get, "/api/topo/nodes", token: server.adminToken).object["nodes"] as? [[String: Any]]
                    let id = try #require(nodes?.first?["id"] as? String)
                    let set = try await eventually(within: .seconds(20)) {
                        try await client.call(.get, "/api/notifications/nodes/\(id)/level", token: server.adminToken).object["level"] as? String == "warning"
                    }
                    #expect(set, "the level chosen in the page is the node's")
                }
            }
        }
    }

    @Test("orchestration in the page: upload the demo release, add a provider, make a family with a domain, deploy two nodes and watch them reach UP, delete them",
          .requires(.namespaceHosts, .rebar3))
    func orchestration() async throws {
        let key = SSHKeyPair.generate()
        let archive = try await DemoRelease.archiveFile()
        try await TestHosts.with(count: 2, authorizedKeys: [key.authorizedKey]) { hosts in
            try await TestServer.with(.live, configure: { $0.requireToken = true }) { server, client in
                let port = try #require(client.port)
                try await Browser.with { browser in
                    try await Self.signIn(browser, port: port, token: server.adminToken)
                    try await browser.open("http://127.0.0.1:\(port)/dashboard/#/orchestration")
                    // The page asks before deleting; the test says yes.
                    try await browser.run("window.confirm = () => true;")

                    try await browser.click("#upload-release")
                    try await browser.type("dialog[open] form input[name=file]", archive.path)
                    try await browser.type("dialog[open] form input[name=name]", "demo")
                    try await browser.fill("dialog[open] form input[name=start_cmd]", "bin/numbat_demo daemon")
                    try await browser.fill("dialog[open] form input[name=stop_cmd]", "bin/numbat_demo stop")
                    try await browser.type("dialog[open] form input[name=cookie]", "dashboard-cookie")
                    try await browser.fill("dialog[open] form input[name=templates]", "releases/0.1.0/vm.args")
                    try await browser.click("dialog[open] form button[type=submit]")
                    try await browser.wait(for: "the release listed", timeout: .seconds(30), "return document.getElementById('view').textContent.includes('numbat_demo 0.1.0')")

                    try await browser.click("#add-provider")
                    try await browser.type("#provider-name", "lab")
                    try await browser.fill("dialog[open] [data-kind=physical] input[name=hosts]", hosts.hosts.map(\.address).joined(separator: ","))
                    try await browser.fill("dialog[open] [data-kind=physical] input[name=directory]", hosts.directory.appendingPathComponent("dash").path)
                    try await browser.fill("dialog[open] [data-kind=physical] textarea[name=private_key]", key.openSSHPrivateKey)
                    try await browser.click("#provider-submit")
                    try await browser.wait(for: "the provider listed", "return document.getElementById('view').textContent.includes(arguments[0])", [hosts.hosts[0].address])

                    try await browser.click("#new-family")
                    try await browser.type("dialog[open] form input[name=name]", "dashboard demo")
                    try await browser.click("dialog[open] form button[type=submit]")
                    try await browser.wait(for: "the family panel", "return document.getElementById('family-panel') && document.getElementById('family-panel').textContent.includes('numbat_demo 0.1.0')")
                    try await browser.click("#add-domain")
                    try await browser.click("dialog[open] form button[type=submit]")
                    try await browser.wait(for: "the domain", "return !document.getElementById('deploy').disabled")

                    try await browser.click("#deploy")
                    try await browser.fill("dialog[open] form input[name=amount]", "2")
                    try await browser.click("dialog[open] form button[type=submit]")
                    try await browser.wait(for: "both nodes deployed", timeout: .seconds(120),
                                           "return document.querySelectorAll(\"#deploy-progress li[data-step='done']\").length === 2 || document.querySelector(\"#deploy-progress li[data-step='failed']\")")
                    let failed = try await browser.run("return document.querySelector(\"#deploy-progress li[data-step='failed']\")?.textContent") as? String
                    #expect(failed == nil, "a node failed: \(failed ?? "")")
                    try await browser.wait(for: "both UP in the node list", timeout: .seconds(30), "return document.querySelectorAll(\"#family-panel tr[data-status='UP']\").length === 2")
                    try await browser.wait(for: "both UP in the tree", "return document.querySelectorAll(\"#tree .tree-node[data-state='UP']\").length === 2")
                    try await Self.screenshot(browser, "orchestration")

                    for _ in 0..<2 {
                        // Clicked in the page: a popup may lie over the button.
                        try await browser.run("document.querySelector('#family-panel tr[data-node] button[data-action=delete]').click()")
                        try await browser.wait(for: "a node deleted", timeout: .seconds(60), "return document.querySelectorAll('#family-panel tr[data-node]').length < arguments[0]",
                                               [try await browser.run("return document.querySelectorAll('#family-panel tr[data-node]').length") as? Int ?? 0])
                    }
                    try await browser.wait(for: "no node left", "return document.getElementById('family-panel').textContent.includes('No nodes deployed.')")
                    #expect(!FileManager.default.fileExists(atPath: hosts.directory.appendingPathComponent("dash").path), "nothing is left on the hosts")
                }
            }
        }
    }
}
