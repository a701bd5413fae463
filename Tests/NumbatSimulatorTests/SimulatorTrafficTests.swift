import ErlangTerm
import Foundation
@testable import NumbatSimulator
import Testing

/// The simulator's changing values, its log and alarm traffic, and its layout (pure).
@Suite("simulator values, traffic and layout")
struct SimulatorTrafficTests {
    static let collect = try! SimulatorProfile.bundled().collect

    static func metrics(_ reply: Term) -> [String: Term] {
        var out: [String: Term] = [:]
        for entry in reply[element: 1]?[element: 0]?.listElements ?? [] {
            if let pair = entry.tupleElements, let name = pair[0].atomValue { out[name.name] = pair[1] }
        }
        return out
    }

    @Test("counters only grow, limits stay, gauges swing within a quarter of the recorded value, fractions stay fractions")
    func drift() {
        let drift = MetricDrift(seed: 42)
        let recorded = Self.metrics(Self.collect)
        var previous = recorded
        for minute in 1...60 {
            let now = Self.metrics(drift.collected(Self.collect, at: Double(minute * 60)))
            #expect(now.count == recorded.count)
            #expect(now["reductions"]!.intValue! > previous["reductions"]!.intValue!)
            #expect(now["process_limit"] == recorded["process_limit"])
            let memory = Double(now["memory_total"]!.intValue!) / Double(recorded["memory_total"]!.intValue!)
            #expect(memory > 0.75 && memory < 1.25)
            if case .float(let utilization) = now["scheduler_utilization"]! { #expect(utilization >= 0 && utilization <= 1) }
            previous = now
        }
        // Deterministic in seed and time; different between nodes.
        #expect(drift.collected(Self.collect, at: 90) == MetricDrift(seed: 42).collected(Self.collect, at: 90))
        #expect(drift.collected(Self.collect, at: 90) != MetricDrift(seed: 43).collected(Self.collect, at: 90))
    }

    @Test("log events come at the configured mean rate and respect the agent's level")
    func logRate() {
        var plan = EmissionPlan(logsPerMinute: 60, alarmsPerHour: 0, seed: 7)
        var events = 0
        var levels: Set<Atom> = []
        for second in 1...3000 {
            for case .logs(let batch) in plan.next(node: 0, second: second, logLevel: "debug", alarmAgent: false, now: Date()) {
                let entries = batch[element: 1]?.listElements ?? []
                events += entries.count
                for entry in entries { if let level = entry[element: 1]?.atomValue { levels.insert(level) } }
            }
        }
        // 3,000 s at one a second: a Poisson count within ±10 % (about 5.5 standard deviations).
        #expect(events > 2700 && events < 3300)
        #expect(levels.isSuperset(of: ["info", "notice", "warning", "error"]))
        var strict = EmissionPlan(logsPerMinute: 60, alarmsPerHour: 0, seed: 7)
        for second in 1...600 {
            for case .logs(let batch) in strict.next(node: 0, second: second, logLevel: "error", alarmAgent: false, now: Date()) {
                for entry in batch[element: 1]?.listElements ?? [] {
                    #expect(["error", "critical"].contains(entry[element: 1]?.atomValue))
                }
            }
        }
        #expect(plan.next(node: 0, second: 1, logLevel: nil, alarmAgent: false, now: Date()).isEmpty)
    }

    @Test("an alarm is set, cleared 30-120 s later, and never sent without the alarm agent")
    func alarms() {
        var plan = EmissionPlan(logsPerMinute: 0, alarmsPerHour: 3600, seed: 3)
        var sets: [Int] = []
        var clears: [Int] = []
        for second in 1...1000 {
            for case .alarm(let message) in plan.next(node: 5, second: second, logLevel: nil, alarmAgent: true, now: Date()) {
                if message[element: 1] == .atom("set") { sets.append(second) } else { clears.append(second) }
            }
        }
        #expect(sets.count >= 5)
        for (set, clear) in zip(sets, clears) { #expect(clear - set >= 30 && clear - set <= 121) }
        #expect(clears.count >= sets.count - 1)
        var none = EmissionPlan(logsPerMinute: 0, alarmsPerHour: 3600, seed: 3)
        for second in 1...100 { #expect(none.next(node: 5, second: second, logLevel: nil, alarmAgent: false, now: Date()).isEmpty) }
    }

    @Test("layout: hosts of 50 nodes, clusters of 100, one seed per cluster")
    func layout() {
        let layout = SimulatorLayout(nodesPerHost: 50, clusterSize: 100, total: 250)
        #expect(layout.name(of: 0).description == "sim0@127.77.0.1")
        #expect(layout.name(of: 49).host == "127.77.0.1")
        #expect(layout.name(of: 50).host == "127.77.0.2")
        #expect(SimulatorLayout(nodesPerHost: 1, total: 300).host(of: 250) == "127.77.1.1")
        #expect(layout.peers(of: 120).count == 99)
        #expect(layout.peers(of: 240).count == 49)
        #expect(!layout.peers(of: 120).contains(layout.name(of: 120).atom))
        #expect(layout.clusterSeeds(0..<250) == [0, 100, 200])
        #expect(layout.clusterSeeds(150..<250) == [150, 200])
    }
}
