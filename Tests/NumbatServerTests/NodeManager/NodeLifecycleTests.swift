import Foundation
@testable import NumbatCore
@testable import NumbatServices
import Testing

/// The node lifecycle, driven directly: events in, directives out, no I/O and no clock.
@Suite("node lifecycle (pure)")
struct NodeLifecycleTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let info = NodeInfo(otpRelease: "25", bootScript: "shop 1.0")
    let family = UUID()
    let schedule = ReconnectSchedule(initial: .seconds(2), maximum: .seconds(5))

    func stored(_ state: NodeState, family: UUID? = nil, bootScript: String? = nil) -> ManagedNode {
        ManagedNode(id: UUID(uuidString: "00000000-0000-0000-0000-000000000001")!, name: "a@h", state: state, familyID: family, host: "h",
                    bootScript: bootScript, addedAt: Date(timeIntervalSince1970: 0), stateChangedAt: Date(timeIntervalSince1970: 0))
    }

    @Test("a node added by hand is stored once and published once, as node UP from UNINIT")
    func probed() {
        var lifecycle = NodeLifecycle(node: stored(.uninit), schedule: schedule)
        var added = stored(.uninit, family: family, bootScript: "shop 1.0")
        added.stateChangedAt = now
        let directives = lifecycle.handle(.probed(added), now: now)
        var up = added
        up.state = .up
        #expect(directives == [.insert(up), .publish(.nodeStateChanged(node: up, from: .uninit))])
        #expect(lifecycle.phase == .up)
        #expect(lifecycle.isManaged)
    }

    @Test("a loss during the probe turns into DOWN and a reconnection right after the node is stored")
    func lostWhileAdding() {
        var lifecycle = NodeLifecycle(node: stored(.uninit), schedule: schedule)
        #expect(lifecycle.handle(.lost(reason: "closed"), now: now) == [])
        let directives = lifecycle.handle(.probed(stored(.uninit, family: family)), now: now)
        #expect(directives.count == 5)
        guard case .insert = directives.first, case .publish(.nodeStateChanged(let down, from: .up)) = directives[3] else {
            Issue.record("unexpected \(directives)")
            return
        }
        #expect(down.state == .down && down.lastError == "closed")
        #expect(directives.last == .connect)
    }

    @Test("lost, reconnect at once; failures back off and are stored but published once")
    func lostAndRetried() {
        var lifecycle = NodeLifecycle(node: stored(.up, family: family, bootScript: "shop 1.0"), schedule: schedule, phase: .up)
        let lost = lifecycle.handle(.lost(reason: "connection closed"), now: now)
        #expect(lost.count == 3)
        #expect(lost.last == .connect)
        #expect(lifecycle.node.state == .down)
        #expect(lifecycle.node.stateChangedAt == now)

        var delays: [Duration] = []
        for attempt in 0..<4 {
            let failed = lifecycle.handle(.connectFailed(reason: "refused \(attempt)"), now: now.addingTimeInterval(Double(attempt)))
            // Stored with its new reason, never re-published while DOWN.
            #expect(failed.contains(.store(lifecycle.node)))
            #expect(!failed.contains { if case .publish = $0 { true } else { false } })
            if case .retry(let delay) = failed.last { delays.append(delay) }
            #expect(lifecycle.handle(.retry, now: now) == [.connect])
        }
        #expect(delays == [.seconds(2), .seconds(3), .milliseconds(4500), .seconds(5)])
        #expect(lifecycle.node.lastError == "refused 3")
        #expect(lifecycle.node.stateChangedAt == now, "DOWN since the loss, not since the last failure")

        let up = lifecycle.handle(.connected(info), now: now)
        var expected = lifecycle.node
        expected.state = .up
        #expect(up == [.store(expected), .publish(.nodeStateChanged(node: expected, from: .down))])
        // The schedule starts again from the beginning after a success.
        _ = lifecycle.handle(.lost(reason: "again"), now: now)
        #expect(lifecycle.handle(.connectFailed(reason: "x"), now: now).last == .retry(after: .seconds(2)))
    }

    @Test("a changed boot script asks for the family first; a deployment family keeps the node")
    func filing() {
        var lifecycle = NodeLifecycle(node: stored(.down, family: family, bootScript: "shop 0.9"), schedule: schedule, phase: .idle)
        #expect(lifecycle.handle(.restored, now: now) == [.connect])
        #expect(lifecycle.handle(.connected(info), now: now) == [.fileInFamily(info)])
        let other = UUID()
        let directives = lifecycle.handle(.filed(familyID: other), now: now)
        #expect(lifecycle.node.familyID == other)
        #expect(lifecycle.node.bootScript == "shop 1.0")
        #expect(directives.count == 2)
        #expect(lifecycle.phase == .up)
    }

    @Test("a node stored UP is DOWN until reconnected after a restart, without an event")
    func restored() {
        var lifecycle = NodeLifecycle(node: stored(.up, family: family, bootScript: "shop 1.0"), schedule: schedule, phase: .idle)
        let directives = lifecycle.handle(.restored, now: now)
        var down = stored(.down, family: family, bootScript: "shop 1.0")
        down.lastError = "not reconnected since the server started"
        down.stateChangedAt = now
        #expect(directives == [.store(down), .connect])
        var stopped = NodeLifecycle(node: stored(.stopped), schedule: schedule, phase: .idle)
        #expect(stopped.handle(.restored, now: now) == [])
    }

    @Test("deployment: planned, steps, managed; UP and DOWN are not deployment's to set")
    func deployment() {
        var lifecycle = NodeLifecycle(node: stored(.uninit), schedule: schedule)
        let planned = stored(.uninit, family: family)
        #expect(lifecycle.handle(.planned(planned), now: now) == [.insert(planned), .publish(.nodeAdded(planned))])
        #expect(lifecycle.handle(.deploymentStep(.uninit, message: nil), now: now) == [], "no change, nothing stored")
        #expect(lifecycle.handle(.renamed(name: "a@10.0.0.2", host: "10.0.0.2"), now: now).count == 1)
        #expect(lifecycle.handle(.deploymentStep(.up, message: nil), now: now) == [])
        let stopped = lifecycle.handle(.deploymentStep(.stopped, message: nil), now: now)
        #expect(stopped.count == 2 && lifecycle.node.state == .stopped)
        let managed = lifecycle.handle(.managed, now: now)
        #expect(managed.last == .connect)
        #expect(lifecycle.node.state == .down)
        #expect(lifecycle.handle(.deploymentStep(.error, message: "late"), now: now) == [], "the manager owns a managed node")
        _ = lifecycle.handle(.connected(info), now: now)
        _ = lifecycle.handle(.filed(familyID: nil), now: now)
        #expect(lifecycle.node.state == .up)
        #expect(lifecycle.node.familyID == family, "a deployed node stays in its family")
        #expect(lifecycle.handle(.unmanaged, now: now) == [.disconnect, .publish(.nodeReleased(id: lifecycle.node.id, name: "a@10.0.0.2"))])
        let failed = lifecycle.handle(.deploymentStep(.error, message: "bootstrap failed"), now: now)
        #expect(failed.count == 2)
        #expect(lifecycle.node.state == .error && lifecycle.node.lastError == "bootstrap failed")
    }

    @Test("removed: closes a managed connection, deletes, publishes; later reports change nothing")
    func removed() {
        var lifecycle = NodeLifecycle(node: stored(.up), schedule: schedule, phase: .up)
        #expect(lifecycle.handle(.removed, now: now) == [.disconnect, .delete, .publish(.nodeRemoved(id: lifecycle.node.id, name: "a@h"))])
        #expect(lifecycle.handle(.lost(reason: "closed"), now: now) == [])
        #expect(lifecycle.handle(.connected(info), now: now) == [])
        #expect(lifecycle.handle(.retry, now: now) == [])
    }

    @Test("a report of an attempt that ends after the node was unmanaged is ignored")
    func lateReports() {
        var lifecycle = NodeLifecycle(node: stored(.down), schedule: schedule, phase: .idle)
        _ = lifecycle.handle(.restored, now: now)
        #expect(lifecycle.handle(.unmanaged, now: now) == [.disconnect, .publish(.nodeReleased(id: lifecycle.node.id, name: "a@h"))])
        #expect(lifecycle.handle(.connected(info), now: now) == [])
        #expect(lifecycle.handle(.connectFailed(reason: "x"), now: now) == [])
        #expect(lifecycle.node.state == .down)
        // A loss reported while an attempt runs makes that attempt's success untrustworthy.
        _ = lifecycle.handle(.managed, now: now)
        #expect(lifecycle.handle(.lost(reason: "closed"), now: now) == [])
        let directives = lifecycle.handle(.connected(info), now: now)
        #expect(directives.last == .retry(after: .seconds(2)))
    }

    @Test("a node taken over from another server is reconnected without an outage (node adopted, not UP again); a failed takeover is DOWN")
    func adopted() {
        var lifecycle = NodeLifecycle(node: stored(.up, family: family, bootScript: "shop 1.0"), schedule: schedule, phase: .idle)
        #expect(lifecycle.handle(.adopted, now: now) == [.connect])
        let up = lifecycle.handle(.connected(info), now: now)
        #expect(up == [.store(lifecycle.node), .publish(.nodeAdopted(lifecycle.node))], "UP before and after: no state change, a new manager")
        var failed = NodeLifecycle(node: stored(.up, family: family, bootScript: "shop 1.0"), schedule: schedule, phase: .idle)
        _ = failed.handle(.adopted, now: now)
        let down = failed.handle(.connectFailed(reason: "refused"), now: now)
        #expect(down.contains { if case .publish(.nodeStateChanged(_, from: .up)) = $0 { true } else { false } })
        var deployed = NodeLifecycle(node: stored(.stopped), schedule: schedule, phase: .idle)
        #expect(deployed.handle(.adopted, now: now) == [], "a deployment's node is not connected by a takeover")
    }
    @Test("a deployment taken over from another server (issue 13): adopted in UNINIT, STOPPED or ERROR, nothing connects; the resumed steps move it as before; adopted DOWN after its start, it reconnects once, and the resumed manage adds no second attempt")
    func deploymentTakenOver() {
        for state in [NodeState.uninit, .stopped, .error] {
            var lifecycle = NodeLifecycle(node: stored(state), schedule: schedule, phase: .idle)
            #expect(lifecycle.handle(.adopted, now: now) == [], "\(state): a deployment's node is the deployment's to move")
            #expect(!lifecycle.isManaged)
        }
        // Resumed at `starting`: STOPPED, then managed once the start command ran.
        var resumed = NodeLifecycle(node: stored(.uninit), schedule: schedule, phase: .idle)
        _ = resumed.handle(.adopted, now: now)
        let stopped = resumed.handle(.deploymentStep(.stopped, message: nil), now: now)
        #expect(stopped.count == 2 && resumed.node.state == .stopped)
        let managed = resumed.handle(.managed, now: now)
        #expect(managed.last == .connect && resumed.node.state == .down)
        // Resumed at `connecting_node`: the previous server had made it DOWN; the takeover
        // reconnects it, and the resumed deployment's own `managed` changes nothing.
        var started = NodeLifecycle(node: stored(.down, family: family, bootScript: "shop 1.0"), schedule: schedule, phase: .idle)
        #expect(started.handle(.adopted, now: now) == [.connect])
        #expect(started.handle(.managed, now: now) == [])
        let up = started.handle(.connected(info), now: now)
        #expect(up.contains { if case .publish(.nodeStateChanged(_, from: .down)) = $0 { true } else { false } } && started.node.state == .up)
        // A resumed deployment that fails: let go, then ERROR with the reason.
        #expect(started.handle(.unmanaged, now: now).first == .disconnect)
        let failed = started.handle(.deploymentStep(.error, message: "starting: refused (resumed after a stopped during starting)"), now: now)
        #expect(failed.count == 2 && started.node.state == .error && started.node.lastError?.hasPrefix("starting: ") == true)
    }
}
