import Foundation
import NumbatTestSupport

extension Requirement {
    /// What `scripts/systemd-sandbox.sh` needs to boot systemd as PID 1 of private namespaces:
    /// root, Debian's systemd, util-linux's unshare, nsenter and setpriv, mounted cgroup
    /// hierarchies, and apt for the package's install.
    static let systemdSandbox = Requirement("root, systemd (/lib/systemd/systemd), util-linux's unshare, nsenter and setpriv, cgroups mounted, apt-get (scripts/install-test-deps.sh)") {
        getuid() == 0
            && ["/lib/systemd/systemd", "/usr/bin/systemctl", "/usr/bin/journalctl", "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/setpriv",
                "/usr/bin/apt-get", "/usr/bin/curl"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
            && ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "").contains(" /sys/fs/cgroup")
    }
}

/// A systemd booted by `scripts/systemd-sandbox.sh` as PID 1 of private PID, mount, UTS, IPC,
/// network and cgroup namespaces, knowing only its own few units and the unit files given, on a
/// machine whose own PID 1 is not systemd (the script says what it hides and why). Commands run
/// inside with `run` (nsenter). `tearDown` ends it: every process in it, its namespaces, its
/// cgroups.
final class SystemdSandbox: @unchecked Sendable {
    let script: BackgroundProcess
    /// The host's PID of the sandbox's systemd.
    let pid: Int32
    /// The cgroup (the same name in every hierarchy) that is the sandbox's root.
    let cgroup: String

    private init(script: BackgroundProcess, pid: Int32, cgroup: String) {
        self.script = script
        self.pid = pid
        self.cgroup = cgroup
    }

    static var scriptPath: String { PackagePaths.root.appendingPathComponent("scripts/systemd-sandbox.sh").path }

    /// Boots it with `units` (unit files copied into its unit directory) and waits until systemd
    /// says its start-up is done (`systemctl is-system-running --wait`: "running").
    static func boot(units: [String]) async throws -> SystemdSandbox {
        let script = try BackgroundProcess("/bin/bash", [scriptPath, "boot"] + units)
        do {
            let pidLine = try await script.line(startingWith: "sandbox pid ", timeout: 60)
            let cgroupLine = try await script.line(startingWith: "sandbox cgroup ", timeout: 5)
            guard let pid = Int32(pidLine.dropFirst("sandbox pid ".count)) else {
                throw StartFailure(description: "systemd-sandbox.sh: \(script.output)")
            }
            let sandbox = SystemdSandbox(script: script, pid: pid, cgroup: String(cgroupLine.dropFirst("sandbox cgroup ".count)))
            let state = try await sandbox.run(["/usr/bin/timeout", "120", "/usr/bin/systemctl", "is-system-running", "--wait"])
            guard state.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "running" else {
                let journal = try? await sandbox.run(["/usr/bin/journalctl", "--no-pager", "-n", "100"])
                sandbox.tearDown()
                throw StartFailure(description: "the sandbox's systemd is \(state.standardOutput) \(state.standardError); \(script.output); journal: \(journal?.standardOutput ?? "")")
            }
            return sandbox
        } catch {
            await script.stop(grace: 30)
            throw error
        }
    }

    /// `command` inside every namespace of the sandbox, with `environment` besides a PATH.
    func run(_ command: [String], environment: [String: String] = [:]) async throws -> ChildProcess {
        try await ChildProcess.run("/bin/bash", [Self.scriptPath, "enter", String(pid)] + command,
                                   environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"]
                                       .merging(environment) { $1 })
    }

    /// The host's PIDs of the processes of a unit: its cgroup in the sandbox's name=systemd
    /// hierarchy, seen from the host.
    func processes(of unit: String) -> [Int32] {
        let procs = "/sys/fs/cgroup/systemd/\(cgroup)/system.slice/\(unit)/cgroup.procs"
        return ((try? String(contentsOfFile: procs, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// The cgroup directories the sandbox made, in every hierarchy (none once torn down).
    func cgroupDirectories() -> [String] {
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        return hierarchies.map { "/sys/fs/cgroup/\($0)/\(cgroup)" }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// SIGTERM to the script, which kills the sandbox's PID 1 (and with it every process of its
    /// PID namespace) and removes its cgroups; blocking, so a `defer` can call it.
    func tearDown() {
        guard script.isRunning else { return }
        kill(script.pid, SIGTERM)
        if waitForExit(script.process, timeout: 60) == nil {
            kill(script.pid, SIGKILL)
            kill(pid, SIGKILL)
            _ = waitForExit(script.process)
        }
    }
}
