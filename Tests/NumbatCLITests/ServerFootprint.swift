import Foundation

/// What a running `numbat serve` holds, read from `/proc` and its health route: open file
/// descriptors, OS threads, resident memory, and the services' per-node workers (the Swift
/// tasks that come and go with each node's UP and DOWN). Compared at the start and end of a
/// long run, it shows whether anything is left behind per cycle.
struct ServerFootprint: CustomStringConvertible {
    var fileDescriptors: Int
    var threads: Int
    var residentKiB: Int
    var nodeWorkers: Int

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func read(pid: Int32, api: String) async throws -> ServerFootprint {
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
            throw Failure(description: "no VmRSS in /proc/\(pid)/status")
        }
        let health = try await API.object(api, "/api/health")
        guard let workers = health["node_workers"] as? Int else { throw Failure(description: "no node_workers in /api/health: \(health)") }
        return ServerFootprint(fileDescriptors: fds, threads: threads, residentKiB: kib, nodeWorkers: workers)
    }

    var description: String {
        "fds \(fileDescriptors), threads \(threads), RSS \(String(format: "%.1f", Double(residentKiB) / 1024)) MiB, node workers \(nodeWorkers)"
    }
}
