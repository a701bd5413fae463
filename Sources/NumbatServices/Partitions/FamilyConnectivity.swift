import Foundation
import NumbatAPI
import NumbatCore

/// A family's connectivity at one moment, from each UP member's view of its peers: the matrix,
/// the sides (connected components) and the link health. Pure: `PartitionWatch` reads the views
/// (one rpc per UP member) and `PartitionTracker` turns successive values into alarm actions.
struct FamilyConnectivity: Sendable, Equatable {
    struct Member: Sendable, Equatable {
        var id: UUID
        var name: String
        var state: NodeState
    }

    /// What one member reported.
    struct View: Sendable, Equatable {
        /// Its `erlang:nodes()`, by name.
        var peers: Set<String>
        /// Bytes queued in its distribution buffer per connected peer (empty when unknown).
        var queues: [String: Int] = [:]
        /// Its `dist_buf_busy_limit`, when it told.
        var busyLimit: Int?
        /// Per peer: how often a process was suspended on the busy distribution port to it,
        /// since the alarm agent started (nil when the node cannot count them: no agent
        /// process, or another tool holds its single system monitor).
        var busyEvents: [String: Int]?
    }

    /// In name order.
    let members: [Member]
    /// By member name; only the UP members that answered.
    let views: [String: View]

    init(members: [Member], views: [String: View]) {
        self.members = members.sorted { $0.name < $1.name }
        let names = Set(members.map(\.name))
        self.views = views.filter { names.contains($0.key) }
    }

    var upCount: Int { members.filter { $0.state == .up }.count }

    /// The members that answered, grouped into connected components: two are on one side when
    /// either lists the other (a connection is one link; right after a cut or a reconnect one
    /// end may not have seen it yet). Largest side first, then by first name; names in order.
    var sides: [[String]] {
        let read = members.map(\.name).filter { views[$0] != nil }
        var side: [String: Int] = [:]
        var sides: [[String]] = []
        for start in read where side[start] == nil {
            var component = [start]
            side[start] = sides.count
            var next = 0
            while next < component.count {
                let here = component[next]
                next += 1
                for other in read where side[other] == nil && linked(here, other) {
                    side[other] = sides.count
                    component.append(other)
                }
            }
            sides.append(component.sorted())
        }
        return sides.sorted { $0.count != $1.count ? $0.count > $1.count : $0[0] < $1[0] }
    }

    func linked(_ a: String, _ b: String) -> Bool {
        views[a]?.peers.contains(b) == true || views[b]?.peers.contains(a) == true
    }

    /// The API's answer: a row per member (what it sees of the other members), the sides, and
    /// a link per ordered pair of members that reported one.
    func response(family: UUID, name: String, checkedAt: Date) -> FamilyConnectivityResponse {
        let names = members.map(\.name)
        let sides = self.sides
        let rows = members.map { member in
            FamilyConnectivityResponse.Row(id: member.id, node: member.name, state: member.state, read: views[member.name] != nil,
                                           sees: names.filter { $0 != member.name && views[member.name]?.peers.contains($0) == true })
        }
        var links: [FamilyConnectivityResponse.Link] = []
        for from in names {
            guard let view = views[from] else { continue }
            for to in names where to != from && view.peers.contains(to) {
                let queued = view.queues[to]
                let busy = queued.flatMap { bytes in view.busyLimit.map { bytes >= $0 } } ?? false
                links.append(FamilyConnectivityResponse.Link(from: from, to: to, queueBytes: queued, busy: busy,
                                                             busyEvents: view.busyEvents.map { $0[to] ?? 0 }))
            }
        }
        return FamilyConnectivityResponse(family: family, name: name, checkedAt: checkedAt, split: sides.count > 1, sides: sides,
                                          rows: rows, links: links)
    }
}
