import Foundation

/// The `partition` alarm's decisions, per family (pure): raised once when a family's UP members
/// split into more than one side, naming the sides; cleared when they are one side again or
/// fewer than two members are UP (nothing left to be split). While at least two members are
/// UP but fewer than two answered, nothing is decided (a slow poll is no heal). A split whose
/// sides change stays the one alarm (the connectivity route shows the sides of now).
struct PartitionTracker: Sendable {
    /// An active partition alarm: it is held by one member (alarms belong to a node), the
    /// first by name of those that answered when it was raised, and cleared on the same one.
    struct Split: Sendable, Equatable {
        var holder: UUID
        var holderName: String
        var sides: [[String]]
    }

    enum Action: Sendable, Equatable {
        case raise(family: UUID, Split, summary: String, details: String)
        case clear(family: UUID, Split, reason: String)
    }

    private(set) var active: [UUID: Split] = [:]

    /// An alarm found active in the store (after a restart): cleared when the family is seen whole.
    mutating func adopt(family: UUID, _ split: Split) {
        active[family] = split
    }

    mutating func observe(family: UUID, name: String, _ connectivity: FamilyConnectivity) -> [Action] {
        let sides = connectivity.sides
        if let split = active[family] {
            guard sides.count == 1 && sides[0].count >= 2 || connectivity.upCount < 2 else { return [] }
            active[family] = nil
            let reason = connectivity.upCount < 2 ? "fewer than two members of \(name) are UP" : "\(name) is whole again: \(Self.describe(sides))"
            return [.clear(family: family, split, reason: reason)]
        }
        guard sides.count > 1, let first = sides.flatMap({ $0 }).min(),
              let holder = connectivity.members.first(where: { $0.name == first }) else { return [] }
        let split = Split(holder: holder.id, holderName: holder.name, sides: sides)
        active[family] = split
        return [.raise(family: family, split, summary: "\(name) is split into \(sides.count) sides: \(Self.describe(sides))",
                       details: Self.details(connectivity))]
    }

    /// A family gone (deleted, or its last member removed): its alarm is forgotten.
    mutating func forget(family: UUID) {
        active[family] = nil
    }

    /// `{a, b} | {c}`.
    static func describe(_ sides: [[String]]) -> String {
        sides.map { "{\($0.joined(separator: ", "))}" }.joined(separator: " | ")
    }

    /// One line per side, then who sees whom.
    static func details(_ connectivity: FamilyConnectivity) -> String {
        let sides = connectivity.sides.enumerated().map { "side \($0.offset + 1): \($0.element.joined(separator: ", "))" }
        let rows = connectivity.members.compactMap { member in
            connectivity.views[member.name].map { view in
                "\(member.name) sees: \(connectivity.members.map(\.name).filter { view.peers.contains($0) }.joined(separator: ", "))"
            }
        }
        return (sides + rows).joined(separator: "\n")
    }
}
