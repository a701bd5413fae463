import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore

/// `numbat family connectivity FAMILY`: who sees whom in a family (the matrix of `erlang:nodes()`),
/// its sides when it is split, and each distribution link's queued bytes.
struct FamilyConnectivityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connectivity", abstract: "Show which member of a family sees which, its sides when split, and its distribution links.")
    @Argument(help: "The family's id or name.") var family: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            var id = family
            if UUID(uuidString: family) == nil {
                let families = try await api.call("GET", "/api/topo/node_families", as: FamilyListResponse.self).value.families
                guard let match = families.first(where: { $0.name == family }) else {
                    throw APIClient.Failure(description: "no node family is named \(family)")
                }
                id = match.id.uuidString.lowercased()
            }
            let reply = try await api.call("GET", "/api/topo/node_families/\(id)/connectivity", as: FamilyConnectivityResponse.self)
            if client.json { return try printJSON(reply.data) }
            print(Self.render(reply.value))
        }
    }

    /// The matrix (`X`: the row's node has the column's in its `nodes()`; `?`: not read), the
    /// sides, and the links.
    static func render(_ view: FamilyConnectivityResponse) -> String {
        let names = view.rows.map(\.node)
        var lines = ["\(view.name): " + (view.split ? "SPLIT into \(view.sides.count) sides" : view.sides.isEmpty ? "no member answered" : "whole")]
        for (index, side) in view.sides.enumerated() where view.split {
            lines.append("  side \(index + 1): \(side.joined(separator: ", "))")
        }
        lines.append("")
        let width = (names.map(\.count).max() ?? 4) + 2
        lines.append("".padding(toLength: width, withPad: " ", startingAt: 0) + names.indices.map { String(format: "%-4d", $0 + 1) }.joined())
        for (index, row) in view.rows.enumerated() {
            let cells = names.map { name in name == row.node ? "-   " : !row.read ? "?   " : row.sees.contains(name) ? "X   " : ".   " }
            lines.append(row.node.padding(toLength: width, withPad: " ", startingAt: 0) + cells.joined() + " \(index + 1) \(row.state.rawValue)")
        }
        if !view.links.isEmpty {
            lines.append("")
            lines.append("LINK".padding(toLength: width * 2 + 4, withPad: " ", startingAt: 0) + "QUEUED  BUSY  BUSY EVENTS")
            for link in view.links {
                lines.append("\(link.from) -> \(link.to)".padding(toLength: width * 2 + 4, withPad: " ", startingAt: 0)
                             + (link.queueBytes.map { "\($0)" } ?? "-").padding(toLength: 8, withPad: " ", startingAt: 0)
                             + (link.busy ? "yes" : "no").padding(toLength: 6, withPad: " ", startingAt: 0) + (link.busyEvents.map { "\($0)" } ?? "-"))
            }
        }
        return lines.joined(separator: "\n")
    }
}
