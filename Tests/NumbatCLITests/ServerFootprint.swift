import Foundation

/// What a running `numbat serve` holds, read from `/proc`, its health route and its own metrics:
/// open file descriptors, OS threads, resident memory, malloc's allocated and free bytes, and the
/// services' per-node workers (the Swift tasks that come and go with each node's UP and DOWN).
/// Compared at the start and end of a long run, it shows whether anything is left behind per
/// cycle; allocated bytes tell a leak from an allocator keeping freed memory.
struct ServerFootprint: CustomStringConvertible {
    var fileDescriptors: Int
    var threads: Int
    var residentKiB: Int
    /// The anonymous part of the resident memory (heap, stacks): what a leak grows. The rest is
    /// file-backed, mostly the pages of the (debug) binary's 50 MB of code touched so far.
    var anonymousKiB: Int
    var nodeWorkers: Int
    var heapAllocatedKiB: Int
    var heapFreeKiB: Int
    /// Of the allocated bytes, SQLite's (page caches grow with the database to their limits).
    var sqliteKiB: Int

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func read(pid: Int32, api: String) async throws -> ServerFootprint {
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kib(_ key: String) throws -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }),
                  let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
                throw Failure(description: "no \(key) in /proc/\(pid)/status")
            }
            return kib
        }
        let health = try await API.object(api, "/api/health")
        guard let workers = health["node_workers"] as? Int else { throw Failure(description: "no node_workers in /api/health: \(health)") }
        let metrics = try await API.text(api, "/metrics")
        func value(_ name: String) throws -> Int {
            guard let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }),
                  let value = Double(line.dropFirst(name.count + 1)) else { throw Failure(description: "no \(name) in /metrics") }
            return Int(value) / 1024
        }
        return ServerFootprint(fileDescriptors: fds, threads: threads, residentKiB: try kib("VmRSS"), anonymousKiB: try kib("RssAnon"), nodeWorkers: workers,
                               heapAllocatedKiB: try value("numbat_heap_allocated_bytes"), heapFreeKiB: try value("numbat_heap_free_bytes"),
                               sqliteKiB: try value("numbat_heap_sqlite_bytes"))
    }

    var description: String {
        "fds \(fileDescriptors), threads \(threads), RSS \(mib(residentKiB)) MiB (anonymous \(mib(anonymousKiB)), heap allocated \(mib(heapAllocatedKiB)) of which SQLite \(mib(sqliteKiB)), free \(mib(heapFreeKiB))), node workers \(nodeWorkers)"
    }

    private func mib(_ kib: Int) -> String {
        String(format: "%.1f", Double(kib) / 1024)
    }
}
