import ArgumentParser
import Foundation
import HummingbirdWSClient
import Logging
import NumbatAPI
import NumbatServices

/// `numbat metrics catalog|list|get`: the built-in metrics, a node's latest values, history.
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "The metrics catalogue, a node's latest metrics and their history.",
        subcommands: [Catalog.self, List.self, Get.self, Live.self, RemoteWrite.self])

    struct Catalog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every built-in metric (no server needed).")
        @Flag(help: "As a Markdown table (docs/metrics.md is this output).") var markdown = false

        func run() async throws {
            if markdown {
                print("| metric | unit | kind | group | description |")
                print("|---|---|---|---|---|")
                for metric in MetricCatalog.builtIn {
                    let requires = metric.requires.map { " (\($0.phrase))" } ?? ""
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
                let reply = try await api.call("GET", "/api/metrics/nodes/\(id)", as: NodeMetricsResponse.self)
                if client.json { return try printJSON(reply.data) }
                let result = reply.value
                print("source: \(result.source ?? "not collected yet"), collected at \(result.collectedAt.map(Self.time) ?? "-")")
                printTable(["METRIC", "VALUE", "UNIT"], result.metrics.map { metric in
                    [metric.name, metric.value.map { formatValue($0, unit: metric.unit) } ?? "-", metric.unit]
                })
            }
        }

        /// A time as the server's ISO 8601 text, to the second.
        static func time(_ date: Date) -> String {
            date.formatted(Date.ISO8601FormatStyle())
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A metric's stored history on a node: a sparkline and a table.",
            discussion: "Older ranges come from the roll-ups (5-minute, then 15-minute averages with minimum and maximum).")
        @Argument(help: "The node's id or name.") var node: String
        @Argument(help: "The metric, e.g. memory_total (see `numbat metrics catalog`).") var metric: String
        @Option(help: "How far back: 90s, 30m, 1h, 1d, 1w, or an RFC 3339 time.") var since = "1h"
        @Option(help: "Average into buckets of this length (e.g. 5m).") var step: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                let id = try await resolveNode(node, with: api)
                var query = "metrics=\(metric.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? metric)&from=\(since)"
                if let step { query += "&step=\(step)" }
                let reply = try await api.call("GET", "/api/metrics/nodes/\(id)/series?\(query)", as: MetricSeriesResponse.self)
                if client.json { return try printJSON(reply.data) }
                let result = reply.value
                let series = result.series.first
                let points = series?.points ?? []
                let values = points.map(\.v)
                let unit = series?.unit ?? ""
                let show = { (value: Double) in formatValue(value, unit: unit) }
                print("\(metric) on \(node): \(values.count) points, \(Self.resolution(result))\(unit.isEmpty ? "" : ", \(unit)")")
                guard !values.isEmpty else { return }
                print(sparkline(values))
                print("min \(show(values.min()!))  max \(show(values.max()!))  last \(show(values.last!))")
                let rolled = points.contains { $0.min != nil }
                printTable(rolled ? ["TIME", "AVERAGE", "MIN", "MAX"] : ["TIME", "VALUE"], points.map { point in
                    var row = [point.t, show(point.v)]
                    if rolled { row += [point.min.map(show) ?? "", point.max.map(show) ?? ""] }
                    return row
                })
            }
        }

        /// "raw", "300 s averages", or for a range spanning tiers each part's, oldest first:
        /// "300 s averages until 12:05:00, then raw".
        static func resolution(_ result: MetricSeriesResponse) -> String {
            func describe(_ seconds: Int) -> String {
                seconds == 0 ? "raw" : "\(seconds) s averages"
            }
            let parts = result.parts
            guard parts.count > 1 else {
                return describe(parts.first.map { $0.stepSeconds ?? $0.resolutionSeconds } ?? result.stepSeconds ?? result.resolutionSeconds)
            }
            return parts.enumerated().map { index, part in
                let until = index == parts.count - 1 ? "" : " until \(MetricsCommand.List.time(parts[index + 1].from).dropFirst(11).prefix(8))"
                return (index == 0 ? "" : "then ") + describe(part.stepSeconds ?? part.resolutionSeconds) + until
            }.joined(separator: ", ")
        }
    }
}

extension MetricsCommand {
    struct Live: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Watch metrics of a node live, one line a second (Ctrl-C to stop).",
            discussion: "The server samples the node every second only while someone watches.")
        @Argument(help: "The node's id or name.") var node: String
        @Argument(help: "Metrics to watch (default: memory_total, process_count, run_queue).") var metrics: [String] = []
        @Option(help: "Stop after this many samples.") var count: Int?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                let id = try await resolveNode(node, with: api)
                let names = metrics.isEmpty ? ["memory_total", "process_count", "run_queue"] : metrics
                let url = api.webSocketURL("/api/metrics/live", query: ["node=\(id)", "metrics=\(names.joined(separator: ","))"])
                let json = client.json
                let limit = count
                if !json { print((["TIME"] + names).joined(separator: "  ")) }
                try await WebSocketClient.connect(url: url, logger: Logger(label: "numbat-cli")) { inbound, outbound, _ in
                    var seen = 0
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        if json {
                            print(text)
                        } else if let sample = try? APICoding.decoder().decode(LiveMetricsSample.self, from: Data(text.utf8)) {
                            let time = String(MetricsCommand.List.time(sample.t).prefix(19))
                            let cells = sample.error.map { ["(\($0))"] } ?? names.map { sample.values[$0].map(formatValue) ?? "-" }
                            print(([time] + cells).joined(separator: "  "))
                        }
                        seen += 1
                        if let limit, seen >= limit { break }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
        }
    }
}

/// A value as an integer when it is one, else four significant digits.
func formatValue(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.4g", value)
}

/// A value for a table, in the units people read: bytes as B, KiB, MiB, GiB or TiB with one
/// decimal (14987560 bytes is "14.3 MiB"); other units as `formatValue`. `--json` keeps the
/// exact numbers.
func formatValue(_ value: Double, unit: String) -> String {
    guard unit == "bytes", value.isFinite else { return formatValue(value) }
    let steps = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var scaled = value
    var step = 0
    while abs(scaled) >= 1024, step < steps.count - 1 {
        scaled /= 1024
        step += 1
    }
    return step == 0 ? "\(formatValue(value)) B" : String(format: "%.1f %@", scaled, steps[step])
}

/// Values as a line of block characters, scaled between their minimum and maximum; at most
/// `width` characters (longer series are averaged down).
func sparkline(_ values: [Double], width: Int = 72) -> String {
    let blocks = Array("▁▂▃▄▅▆▇█")
    var columns = values
    if values.count > width {
        columns = (0..<width).map { index in
            let slice = values[(index * values.count / width)..<((index + 1) * values.count / width)]
            return slice.reduce(0, +) / Double(slice.count)
        }
    }
    guard let low = columns.min(), let high = columns.max() else { return "" }
    return String(columns.map { value in
        high == low ? blocks[3] : blocks[min(blocks.count - 1, Int((value - low) / (high - low) * Double(blocks.count - 1) + 0.5))]
    })
}
