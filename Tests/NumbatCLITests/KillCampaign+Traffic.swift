import ErlangDist
import ErlangTerm
import Foundation
import NumbatTestSupport

/// The load the servers are killed under. On the nodes: real OTP nodes log an error every
/// 20 ms and raise and clear SASL alarms in a loop, and simulated nodes (`numbat-sim`) send
/// their log events and alarms; every node is collected every second. Through the API: new
/// campaign alarms acknowledged as they appear, and audited rpcs one after another. The API
/// loops run across kills (a request to a dead server fails and is not counted); what answered
/// 200 goes into the ledger.
final class CampaignTraffic: @unchecked Sendable {
    let base: String
    let ledger: KillLedger
    private let lock = NSLock()
    private var tasks: [Task<Void, Never>] = []
    private var counters = (acknowledgements: 0, rpcs: 0)

    init(base: String, ledger: KillLedger) {
        self.base = base
        self.ledger = ledger
    }

    /// The alarm keys the real nodes raise (`sasl:` and the alarm id).
    static let alarmPrefix = "sasl:kill_campaign_"

    /// Starts the log flood and the alarm loop on a real node (through `observer`): they run
    /// until the node stops, whether a server is there or not.
    static func startNodeLoops(on node: NodeName, observer: LocalNode) async throws {
        let text = """
            {ok, _} = application:ensure_all_started(sasl),
            Flood = fun F(N) -> logger:error("kill-campaign flood ~b", [N]), timer:sleep(20), F(N + 1) end,
            Alarms = fun A(K) ->
                Id = list_to_atom("kill_campaign_" ++ integer_to_list(K rem 5)),
                alarm_handler:set_alarm({Id, "raised by the kill campaign"}),
                timer:sleep(300),
                alarm_handler:clear_alarm(Id),
                timer:sleep(100),
                A(K + 1)
            end,
            spawn(fun() -> Flood(0) end),
            spawn(fun() -> Alarms(0) end),
            ok.
            """
        let reply = try await observer.rpc(node, "numbat_test_peer", "eval", [.binary(Array(text.utf8))])
        guard reply == .atom("ok") else { throw CampaignAPI.Failure(description: "starting the loops on \(node): \(reply)") }
    }

    /// Starts the acknowledging loop and the rpc loop (on `rpcNodes`).
    func start(rpcNodes: [UUID]) {
        let acknowledging = Task { [self] in
            while !Task.isCancelled {
                await acknowledgeNewAlarms()
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let calling = Task { [self] in
            var sequence = 0
            while !Task.isCancelled {
                sequence += 1
                await call(rpcNodes[sequence % rpcNodes.count], sequence)
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        lock.withLock { tasks = [acknowledging, calling] }
    }

    func stop() async {
        let running = lock.withLock { tasks }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }

    var answered: (acknowledgements: Int, rpcs: Int) { lock.withLock { counters } }

    private func acknowledgeNewAlarms() async {
        guard let (status, json) = try? await API.call("GET", base, "/api/alarms?state=new&limit=50"), status == 200,
              let alarms = (json as? [String: Any])?["alarms"] as? [[String: Any]] else { return }
        for alarm in alarms where (alarm["key"] as? String)?.hasPrefix(Self.alarmPrefix) == true {
            guard let id = (alarm["id"] as? NSNumber)?.int64Value else { continue }
            guard let (status, json) = try? await API.call("POST", base, "/api/alarms/\(id)/acknowledge", body: ["comment": "seen by the kill campaign"]),
                  status == 200, let time = (json as? [String: Any])?["acknowledged_at"] as? String else { continue }
            ledger.acknowledged(alarm: id, at: time)
            lock.withLock { counters.acknowledgements += 1 }
        }
    }

    private func call(_ node: UUID, _ sequence: Int) async {
        let body: [String: Any] = ["module": "lists", "function": "reverse", "args": [[0, sequence]]]
        guard let (status, json) = try? await API.call("POST", base, "/api/nodes/\(node.uuidString.lowercased())/rpc", body: body), status == 200,
              let id = ((json as? [String: Any])?["audit_id"] as? NSNumber)?.int64Value else { return }
        ledger.answered(rpc: id, command: "lists:reverse([0,\(sequence)])")
        lock.withLock { counters.rpcs += 1 }
    }
}

/// `numbat-sim` for the campaign: simulated nodes with their own EPMD, each added to Numbat by
/// its name and port (`name@host:PORT`), so the server's own EPMD port stays the standard one for
/// the real and deployed nodes.
enum CampaignSimulator {
    static let cookie = "kill-campaign-sim"

    /// Starts `count` simulated nodes (10 per loopback address) and returns the process and the
    /// nodes as `name@host:port`.
    static func start(count: Int) async throws -> (BackgroundProcess, [String]) {
        let epmdPort = try freePort(onAll: ["127.77.0.1"])
        let prefix = "kc\(UInt32.random(in: 0...UInt32.max))x"
        let simulator = try BackgroundProcess(BackgroundProcess.product("numbat-sim"), [
            "run", "--count", "\(count)", "--cluster-size", "\(count)", "--nodes-per-host", "10", "--epmd-port", "\(epmdPort)",
            "--cookie", cookie, "--prefix", prefix, "--logs-per-minute", "60", "--alarms-per-hour", "360", "--seed", "17",
        ])
        do {
            _ = try await simulator.line(startingWith: "numbat-sim ready: \(count) simulated nodes", timeout: 120)
            let client = EPMDClient(port: epmdPort)
            var nodes: [String] = []
            let layout = (0..<count).map { "127.77.0.\($0 / 10 + 1)" }
            for host in Set(layout).sorted() {
                for (name, port) in try await client.names(host: host) where name.hasPrefix(prefix) {
                    nodes.append("\(name)@\(host):\(port)")
                }
            }
            guard nodes.count == count else { throw CampaignAPI.Failure(description: "the simulator's EPMD lists \(nodes.count) of \(count) nodes") }
            return (simulator, nodes.sorted())
        } catch {
            await simulator.stop()
            throw error
        }
    }
}
