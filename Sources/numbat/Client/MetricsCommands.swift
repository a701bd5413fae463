import ArgumentParser
import Foundation
import NumbatServices

/// `numbat metrics catalog|list`: the built-in metrics and a node's latest values.
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "The metrics catalogue and a node's latest metrics.", subcommands: [Catalog.self, List.self])

    struct Catalog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every built-in metric (no server needed).")
        @Flag(help: "As a Markdown table (docs/metrics.md is this output).") var markdown = false

        func run() async throws {
            if markdown {
                print("| metric | unit | kind | group | description |")
                print("|---|---|---|---|---|")
                for metric in MetricCatalog.builtIn {
                    let requires = metric.requires.map { " (when \($0) runs)" } ?? ""
                    print("| `\(metric.name)` | \(metric.unit) | \(metric.kind.rawValue) | \(metric.group) | \(metric.description)\(requires) |")
                }
            } else {
                printTable(["METRIC", "UNIT", "KIND", "DESCRIPTION"], MetricCatalog.builtIn.map { [$0.name, $0.unit, $0.kind.rawValue, $0.description] })
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A node's metrics with their latest values.")
        @Argument(help: "The node's id or name.") var node: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                let id = try await resolveNode(node, with: api)
                let result = try await api.json("GET", "/api/metrics/nodes/\(id)")
                if client.json { return try printJSON(result) }
                print("source: \(result["source"] as? String ?? "not collected yet"), collected at \(result["collected_at"] as? String ?? "-")")
                printTable(["METRIC", "VALUE", "UNIT"], (result["metrics"] as? [[String: Any]] ?? []).map { metric in
                    [metric["name"] as? String ?? "", (metric["value"] as? Double).map(formatValue) ?? "-", metric["unit"] as? String ?? ""]
                })
            }
        }

        func formatValue(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.4g", value)
        }
    }
}
