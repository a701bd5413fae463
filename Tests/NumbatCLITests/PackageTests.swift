import Foundation
import NumbatTestSupport
import Testing

extension Requirement {
    /// Root (dpkg -i, a system user, a mount namespace), dpkg, setpriv and unshare (util-linux),
    /// adduser, curl and systemd-analyze (Debian's systemd package; systemd need not run).
    static let debianPackaging = Requirement("root, dpkg, adduser, util-linux's setpriv and unshare, curl and systemd-analyze (scripts/install-test-deps.sh)") {
        getuid() == 0 && ["/usr/bin/dpkg", "/usr/sbin/adduser", "/usr/bin/setpriv", "/usr/bin/unshare", "/usr/bin/curl", "/usr/bin/systemd-analyze"]
            .allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// The Debian package from `scripts/package.sh`: installed on this machine with `dpkg -i`, its
/// service's command run as systemd would run it, then purged; and installed with `apt install
/// ./numbat_*.deb`, its unit started and stopped by a real systemd (PID 1 of private namespaces,
/// `SystemdSandbox`), then removed and purged with apt.
@Suite("the Debian package", .serialized, .requires(.debianPackaging, .otp(.otp25)))
struct PackageTests {
    @Test("dpkg -i, the unit's ExecStart as the numbat user serves and manages a node, dpkg --purge leaves nothing behind")
    func installServePurge() async throws {
        try await Self.requireNoInstallation()
        let (deb, built) = try await Self.package()
        defer {
            Self.purgeIfInstalled()
            if let built { try? FileManager.default.removeItem(at: built) }
        }

        let installed = try await ChildProcess.run("/usr/bin/dpkg", ["-i", deb])
        try #require(installed.status == 0, "dpkg -i: \(installed.standardOutput) \(installed.standardError)")
        let package = try await Self.expectInstalled(deb)

        // The unit as systemd would load it (systemd need not be running for that).
        let verified = try await ChildProcess.run("/usr/bin/systemd-analyze", ["verify", "/lib/systemd/system/numbat.service"])
        let complaints = (verified.standardOutput + verified.standardError).split(separator: "\n").filter { $0.contains("numbat") }
        #expect(verified.status == 0 && complaints.isEmpty, "systemd-analyze verify: \(verified.standardOutput) \(verified.standardError)")
        let unit = try ServiceUnit(contentsOf: "/lib/systemd/system/numbat.service")
        #expect(unit.execStart == ["/usr/bin/numbat", "serve", "--config", "/etc/numbat/numbat.json"], "\(unit.execStart)")

        try await TestNode.with(release: .otp25, cookie: "package-test-cookie") { peer in
            let service = try await InstalledService.start(unit, hiding: PackagePaths.root.path)
            defer { service.kill() }
            let status = try String(contentsOfFile: "/proc/\(service.process.processIdentifier)/status", encoding: .utf8)
            let uid = package.uid
            #expect(status.split(separator: "\n").contains { $0.hasPrefix("Uid:") && $0.split(separator: "\t").dropFirst().allSatisfy { $0 == uid } },
                    "the service does not run as numbat: \(status)")
            let health = try await ChildProcess.run("/usr/bin/curl", ["-sS", "--max-time", "10", "\(service.url)/api/health"])
            #expect(health.status == 0 && health.standardOutput.contains("\"status\""), "\(health.standardOutput) \(health.standardError)")
            // The dashboard comes from the packaged resource bundle (the build's is hidden).
            let dashboard = try await ChildProcess.run("/usr/bin/curl", ["-sS", "--max-time", "10", "\(service.url)/dashboard/"])
            #expect(dashboard.standardOutput.contains("<html"), "\(dashboard.standardOutput.prefix(300)) \(dashboard.standardError)")

            // The installed CLI adds the node; the server injects the packaged agents into it.
            let environment = ["NUMBAT_URL": service.url, "PATH": "/usr/bin:/bin"]
            let added = try await ChildProcess.run("/usr/bin/numbat", ["node", "add", peer.name.description, "--cookie", peer.cookie], environment: environment)
            #expect(added.status == 0, "\(added.standardOutput) \(added.standardError) \(service.output)")
            var shown = ""
            // Each wait ends early if the add failed or the server has exited (its output then
            // says why): a wait for nothing would only spawn hundreds of CLI processes.
            for _ in 0..<120 where added.status == 0 && service.process.isRunning {
                shown = try await ChildProcess.run("/usr/bin/numbat", ["node", "show", peer.name.description], environment: environment).standardOutput
                if shown.contains("state             UP") { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(shown.contains("state             UP"), "\(shown) \(service.output)")
            // The alarm agent, read from the packaged bundle, loaded into the node.
            var loaded = try await ChildProcess.run("/usr/bin/numbat", ["rpc", peer.name.description, "code", "is_loaded", "numbat_alarm_agent",
                                                                      "--cookie", peer.cookie], environment: environment)
            for _ in 0..<60 where added.status == 0 && service.process.isRunning && !loaded.standardOutput.contains("numbat_alarm_agent.beam") {
                try await Task.sleep(for: .milliseconds(500))
                loaded = try await ChildProcess.run("/usr/bin/numbat", ["rpc", peer.name.description, "code", "is_loaded", "numbat_alarm_agent",
                                                                      "--cookie", peer.cookie], environment: environment)
            }
            #expect(loaded.standardOutput.contains("numbat/numbat_alarm_agent.beam"), "\(loaded.standardOutput) \(loaded.standardError) \(service.output)")

            // The unit's TimeoutStopSec.
            #expect(try await service.terminate(timeout: 30) == 0, "\(service.output)")
            let written = try FileManager.default.attributesOfItem(atPath: "/var/lib/numbat/admin-token")
            #expect(written[.ownerAccountName] as? String == "numbat" && (written[.posixPermissions] as? Int) == 0o600, "\(written)")
            #expect(FileManager.default.fileExists(atPath: "/var/lib/numbat/numbat.sqlite"))
        }

        let purged = try await ChildProcess.run("/usr/bin/dpkg", ["--purge", "numbat"])
        #expect(purged.status == 0, "dpkg --purge: \(purged.standardOutput) \(purged.standardError)")
        try await Self.expectNothingLeft(package)
    }

    @Test("apt install ./numbat_*.deb; under systemd the postinst enables and starts numbat.service as the numbat user, hardened, serving; systemctl stop and the prerm end it cleanly; apt remove keeps configuration and data, apt purge leaves nothing",
          .requires(.systemdSandbox))
    func aptInstallSystemdPurge() async throws {
        try await Self.requireNoInstallation()
        let (deb, built) = try await Self.package()
        defer {
            Self.purgeIfInstalled()
            if let built { try? FileManager.default.removeItem(at: built) }
        }

        // As an operator does: apt resolves the Depends against the installed packages and the
        // configured mirror (a path, not a name: the file).
        let installed = try await Self.apt(["install", deb])
        try #require(installed.status == 0, "apt-get install: \(installed.standardOutput) \(installed.standardError)")
        #expect(installed.standardOutput.contains("Setting up numbat"), "\(installed.standardOutput)")
        let state = try await ChildProcess.run("/usr/bin/dpkg-query", ["-W", "-f=${Status}", "numbat"]).standardOutput
        #expect(state == "install ok installed", "\(state)")
        let checked = try await ChildProcess.run("/usr/bin/apt-get", ["check"])
        #expect(checked.status == 0, "apt-get check: \(checked.standardOutput) \(checked.standardError)")
        let package = try await Self.expectInstalled(deb)
        try await Self.expectDependsInMirror(deb)

        let sandbox = try await SystemdSandbox.boot(units: ["/lib/systemd/system/numbat.service"])
        defer { sandbox.tearDown() }
        func journal() async -> String {
            (try? await sandbox.run(["/usr/bin/journalctl", "--no-pager", "-n", "60"]).standardOutput) ?? ""
        }
        // The package's postinst as dpkg runs it where systemd runs (/run/systemd/system): it
        // enables the unit and starts it (deb-systemd-invoke). On the host, whose PID 1 is not
        // systemd, apt's run of it only enabled the unit; here its enablement lands in the
        // sandbox's private /etc/systemd/system and /var/lib/systemd.
        // deb-systemd-helper acts only when dpkg runs it: dpkg's variables, as dpkg sets them.
        let maintainerScript = { (name: String) in ["DPKG_MAINTSCRIPT_PACKAGE": "numbat", "DPKG_MAINTSCRIPT_NAME": name, "DPKG_MAINTSCRIPT_ARCH": "all"] }
        let configured = try await sandbox.run(["/var/lib/dpkg/info/numbat.postinst", "configure"], environment: maintainerScript("postinst"))
        let startLog = if configured.status == 0 { "" } else { await journal() }
        try #require(configured.status == 0, "postinst configure: \(configured.standardOutput) \(configured.standardError) \(startLog)")
        let enabled = try await sandbox.run(["/usr/bin/systemctl", "is-enabled", "numbat"])
        #expect(enabled.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "enabled", "\(enabled.standardOutput) \(enabled.standardError)")

        // Up when its API answers, on the configuration's 127.0.0.1:8080 in the sandbox's network.
        var health = try await sandbox.run(["/usr/bin/curl", "-sS", "--max-time", "5", "http://127.0.0.1:8080/api/health"])
        for _ in 0..<120 where !health.standardOutput.contains("\"status\"") {
            try await Task.sleep(for: .milliseconds(500))
            health = try await sandbox.run(["/usr/bin/curl", "-sS", "--max-time", "5", "http://127.0.0.1:8080/api/health"])
        }
        let healthLog = if health.standardOutput.contains("\"status\"") { "" } else { await journal() }
        #expect(health.standardOutput.contains("\"status\""), "\(health.standardOutput) \(health.standardError) \(healthLog)")
        let active = try await sandbox.run(["/usr/bin/systemctl", "is-active", "numbat"])
        #expect(active.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "active", "\(active.standardOutput)")
        // systemctl status: running, in its own cgroup, with the server's output in the journal.
        let status = try await sandbox.run(["/usr/bin/systemctl", "status", "--no-pager", "--full", "--lines=50", "numbat"])
        #expect(status.status == 0 && status.standardOutput.contains("Active: active (running)")
            && status.standardOutput.contains("/system.slice/numbat.service") && status.standardOutput.contains("numbat listening on"),
            "\(status.standardOutput) \(status.standardError)")

        // The process as systemd made it: seen from the host through the sandbox's cgroup.
        let processes = sandbox.processes(of: "numbat.service")
        #expect(processes.count == 1, "\(processes)")
        if let server = processes.first {
            let proc = try String(contentsOfFile: "/proc/\(server)/status", encoding: .utf8)
            let fields = Dictionary(proc.split(separator: "\n").compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }, uniquingKeysWith: { first, _ in first })
            // User=numbat; NoNewPrivileges; an empty CapabilityBoundingSet; seccomp filters
            // (SystemCallArchitectures, RestrictAddressFamilies, RestrictNamespaces...); UMask.
            #expect(fields["Uid"]?.split(separator: "\t").allSatisfy { $0 == package.uid } == true, "Uid: \(fields["Uid"] ?? "")")
            #expect(fields["NoNewPrivs"] == "1" && fields["Seccomp"] == "2", "\(proc)")
            #expect(fields["CapBnd"] == "0000000000000000" && fields["CapEff"] == "0000000000000000", "\(proc)")
            #expect(fields["Umask"] == "0027", "\(proc)")
            let cmdline = try String(contentsOfFile: "/proc/\(server)/cmdline", encoding: .utf8).split(separator: "\0").map(String.init)
            #expect(cmdline == ["/usr/bin/numbat", "serve", "--config", "/etc/numbat/numbat.json"], "\(cmdline)")
            // LimitNOFILE=65536, or as close as systemd can set it: on a machine whose bounding
            // set lacks CAP_SYS_RESOURCE (CI's sandbox: a hard limit of 20,000) no process may
            // raise a hard limit, and systemd sets the hard limit it has.
            var own = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &own)
            let expected = String(min(65536, own.rlim_max))
            // /proc files read with cat: Foundation reads a procfs file's first page only.
            let limits = try await ChildProcess.run("/bin/cat", ["/proc/\(server)/limits"]).standardOutput
            let openFiles = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }?.split(separator: " ").map(String.init) ?? []
            #expect(openFiles.count > 4 && openFiles[3] == expected && openFiles[4] == expected, "expected \(expected): \(limits)")
            // ProtectSystem=strict: / read-only for it, /var/lib/numbat writable; PrivateTmp.
            let mountinfo = try await ChildProcess.run("/bin/cat", ["/proc/\(server)/mountinfo"]).standardOutput
            let mounts = mountinfo.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            func options(_ target: String) -> [String]? { mounts.last { $0.count > 5 && $0[4] == target }.map { $0[5].split(separator: ",").map(String.init) } }
            #expect(options("/")?.contains("ro") == true, "/: \(options("/") ?? [])")
            #expect(options("/var/lib/numbat")?.contains("rw") == true, "/var/lib/numbat: \(options("/var/lib/numbat") ?? [])")
            // PrivateTmp: its /tmp is a directory of systemd's; ProtectHome: /root covered; all
            // in a mount namespace of its own.
            let tmp = mounts.last { $0.count > 4 && $0[4] == "/tmp" }
            #expect(tmp?[3].contains("systemd-private-") == true, "/tmp: \(tmp ?? [])")
            #expect(options("/root") != nil, "/root not covered: \(mounts.map { $0.count > 4 ? $0[4] : "" })")
            let namespaces = try [server, sandbox.pid].map { try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/mnt") }
            #expect(namespaces[0] != namespaces[1], "\(namespaces)")
        }

        // systemctl stop: SIGTERM, a clean exit (not a kill after TimeoutStopSec), then inactive.
        let stopped = try await sandbox.run(["/usr/bin/systemctl", "stop", "numbat"])
        #expect(stopped.status == 0, "\(stopped.standardOutput) \(stopped.standardError)")
        let result = try await sandbox.run(["/usr/bin/systemctl", "show", "-p", "ActiveState,Result,ExecMainCode,ExecMainStatus", "numbat"]).standardOutput
        // Result=success: stopped by its SIGTERM, not killed after TimeoutStopSec (Result=timeout).
        let properties = Set(result.split(separator: "\n").map(String.init))
        let stopLog = await journal()
        #expect(properties.isSuperset(of: ["ActiveState=inactive", "Result=success"]), "\(result) \(stopLog)")
        let unitJournal = try await sandbox.run(["/usr/bin/journalctl", "--no-pager", "-u", "numbat"]).standardOutput
        #expect(unitJournal.contains("Started numbat.service"), "\(unitJournal)")
        #expect(unitJournal.contains("numbat.service: Deactivated successfully") && unitJournal.contains("Stopped numbat.service"), "\(unitJournal)")
        for server in processes { #expect(await Self.ended(server), "the server \(server) still runs") }

        // systemctl start, then the prerm as dpkg runs it on removal: it stops the service.
        let started = try await sandbox.run(["/usr/bin/systemctl", "start", "numbat"])
        #expect(started.status == 0, "systemctl start numbat: \(started.standardOutput) \(started.standardError)")
        let again = try await sandbox.run(["/usr/bin/systemctl", "is-active", "numbat"])
        #expect(again.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "active", "\(again.standardOutput)")
        let prerm = try await sandbox.run(["/var/lib/dpkg/info/numbat.prerm", "remove"], environment: maintainerScript("prerm"))
        #expect(prerm.status == 0, "prerm remove: \(prerm.standardOutput) \(prerm.standardError)")
        let afterPrerm = try await sandbox.run(["/usr/bin/systemctl", "show", "-p", "ActiveState,Result", "numbat"]).standardOutput
        #expect(Set(afterPrerm.split(separator: "\n").map(String.init)) == ["ActiveState=inactive", "Result=success"], "\(afterPrerm)")
        #expect(sandbox.processes(of: "numbat.service").isEmpty)
        let written = try FileManager.default.attributesOfItem(atPath: "/var/lib/numbat/admin-token")
        #expect(written[.ownerAccountName] as? String == "numbat" && (written[.posixPermissions] as? Int) == 0o600, "\(written)")
        #expect(FileManager.default.fileExists(atPath: "/var/lib/numbat/numbat.sqlite"))

        // The sandbox torn down: its systemd, every process, its cgroups.
        sandbox.tearDown()
        #expect(await Self.ended(sandbox.pid), "the sandbox's systemd still runs")
        #expect(sandbox.cgroupDirectories().isEmpty, "\(sandbox.cgroupDirectories())")

        // apt remove: the program goes; the configuration, the data and the user stay, the unit
        // is masked (deb-systemd-helper) until a purge or a new install.
        let removed = try await Self.apt(["remove", "numbat"])
        #expect(removed.status == 0, "apt-get remove: \(removed.standardOutput) \(removed.standardError)")
        let afterRemove = try await ChildProcess.run("/usr/bin/dpkg-query", ["-W", "-f=${Status}", "numbat"]).standardOutput
        #expect(afterRemove == "deinstall ok config-files", "\(afterRemove)")
        #expect(!FileManager.default.fileExists(atPath: "/usr/lib/numbat") && !FileManager.default.fileExists(atPath: "/lib/systemd/system/numbat.service"))
        #expect(FileManager.default.fileExists(atPath: "/etc/numbat/numbat.json") && FileManager.default.fileExists(atPath: "/var/lib/numbat/numbat.sqlite"))
        #expect(try await Self.getent("passwd", "numbat") != nil)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/systemd/system/numbat.service")) == "/dev/null", "not masked")

        let purged = try await Self.apt(["purge", "numbat"])
        #expect(purged.status == 0, "apt-get purge: \(purged.standardOutput) \(purged.standardError)")
        let afterPurge = try await ChildProcess.run("/usr/bin/dpkg-query", ["-W", "-f=${Status}", "numbat"]).standardOutput
        #expect(!afterPurge.contains("installed") && !afterPurge.contains("config-files"), "\(afterPurge)")
        try await Self.expectNothingLeft(package)
    }

    /// Every package of `deb`'s Depends (and Recommends) is one apt finds in the configured
    /// Debian mirror: a simulated `apt-get install ./deb` on a machine with nothing installed (an
    /// empty dpkg status) must install each from the archive, as on a fresh Debian 12. Here the
    /// real install found them all installed already, so this is what shows the names and
    /// versions resolve against the mirror.
    static func expectDependsInMirror(_ deb: String) async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-empty-status-\(getpid())")
        try Data().write(to: empty)
        defer { try? FileManager.default.removeItem(at: empty) }
        var fields: [String] = []
        for field in ["Depends", "Recommends"] {
            fields += try await ChildProcess.run("/usr/bin/dpkg-deb", ["-f", deb, field]).standardOutput.split(separator: ",")
                .map { $0.split(separator: "|")[0].trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        }
        let names = fields.compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(names.contains("libc6") && names.contains("adduser"), "\(fields)")
        let simulate = ["-s", "-o", "Dir::State::status=\(empty.path)", "install", deb]
        var simulated = try await apt(simulate)
        if simulated.status != 0 {
            // Package lists missing or stale on this machine: fetched once from the mirror.
            _ = try await apt(["update", "-qq"])
            simulated = try await apt(simulate)
        }
        #expect(simulated.status == 0, "apt-get -s install (nothing installed): \(simulated.standardOutput.suffix(2000)) \(simulated.standardError)")
        let installs = simulated.standardOutput.split(separator: "\n").filter { $0.hasPrefix("Inst ") }
        for name in names {
            #expect(installs.contains { $0.hasPrefix("Inst \(name) (") && $0.contains("Debian") }, "\(name) not from the mirror: \(installs.prefix(200))")
        }
        #expect(installs.contains { $0.hasPrefix("Inst numbat (") && $0.contains("local-deb") }, "\(installs.suffix(5))")
    }

    /// Whether process `pid` has ended (gone, or a zombie its new parent has yet to reap),
    /// waited for up to 30 s.
    static func ended(_ pid: Int32) async -> Bool {
        for _ in 0..<300 {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return true }
            if status.split(separator: "\n").contains(where: { $0.hasPrefix("State:") && $0.contains("Z") }) { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// apt-get, unattended, waiting for dpkg's lock should another apt run now.
    static func apt(_ arguments: [String]) async throws -> ChildProcess {
        try await ChildProcess.run("/usr/bin/apt-get", ["-y", "-q", "-o", "DPkg::Lock::Timeout=300"] + arguments,
                                   environment: ["DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    }

    /// Never purge an operator's own installation or user.
    static func requireNoInstallation() async throws {
        try #require(try await ChildProcess.run("/usr/bin/dpkg-query", ["-W", "-f=${Status}", "numbat"]).standardOutput.contains("installed") == false,
                     "a numbat package is already installed here")
        let existingUser = try await Self.getent("passwd", "numbat")
        let existingGroup = try await Self.getent("group", "numbat")
        try #require(existingUser == nil && existingGroup == nil, "a numbat user or group already exists")
    }

    /// What an installation of the package (dpkg -i or apt install) put on the machine, checked:
    /// its files, the conffile, the postinst's user, group, data directory, modes and enabled
    /// unit, a binary with the Swift runtime inside and the package's version.
    struct Installed {
        var files: [String]
        var isDirectory: [String: Bool]
        var uid: String
    }

    static func expectInstalled(_ deb: String) async throws -> Installed {
        let files = try await ChildProcess.run("/usr/bin/dpkg", ["-L", "numbat"]).standardOutput
            .split(separator: "\n").map(String.init).filter { $0.hasPrefix("/") && $0 != "/." }
        var isDirectory: [String: Bool] = [:]
        for path in files {
            var directory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: path, isDirectory: &directory), "\(path) listed but not installed")
            isDirectory[path] = directory.boolValue
        }
        #expect(files.contains("/usr/lib/numbat/numbat") && files.contains("/lib/systemd/system/numbat.service"))
        let conffiles = try await ChildProcess.run("/usr/bin/dpkg-query", ["-W", "-f=${Conffiles}", "numbat"]).standardOutput
        #expect(conffiles.contains("/etc/numbat/numbat.json"), "conffiles: \(conffiles)")

        // What the postinst made: a system user and group, the data directory, the enabled unit.
        let user = try #require(try await Self.getent("passwd", "numbat"), "postinst made no numbat user")
        let fields = user.split(separator: ":", omittingEmptySubsequences: false)
        #expect(fields.count == 7 && Int(fields[2]).map { $0 < 1000 } == true && fields[5] == "/var/lib/numbat" && fields[6] == "/usr/sbin/nologin", "\(user)")
        #expect(try await Self.getent("group", "numbat") != nil)
        let data = try FileManager.default.attributesOfItem(atPath: "/var/lib/numbat")
        #expect(data[.ownerAccountName] as? String == "numbat" && (data[.posixPermissions] as? Int) == 0o750, "\(data)")
        let config = try FileManager.default.attributesOfItem(atPath: "/etc/numbat/numbat.json")
        #expect(config[.groupOwnerAccountName] as? String == "numbat" && (config[.posixPermissions] as? Int) == 0o640, "\(config)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: Self.enabledLink)) != nil, "postinst did not enable the unit")

        // The binary: the Swift runtime inside, the version the package is named after.
        let linked = try await ChildProcess.run("/usr/bin/ldd", ["/usr/lib/numbat/numbat"]).standardOutput
        #expect(!linked.contains("libswift") && !linked.contains("Foundation"), "\(linked)")
        let version = try await ChildProcess.run("/usr/bin/numbat", ["--version"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(URL(fileURLWithPath: deb).lastPathComponent.hasPrefix("numbat_\(version)_"), "\(version) \(deb)")

        return Installed(files: files, isDirectory: isDirectory, uid: String(fields.count > 2 ? fields[2] : ""))
    }

    /// After a purge: none of the package's files but directories other packages own, no data,
    /// configuration, enablement, mask, user or group.
    static func expectNothingLeft(_ package: Installed) async throws {
        let (files, isDirectory) = (package.files, package.isDirectory)
        for path in files where FileManager.default.fileExists(atPath: path) {
            // Only directories other packages also own (/usr/bin, /lib/systemd/system) may stay.
            let owners = try await ChildProcess.run("/usr/bin/dpkg", ["-S", path])
            #expect(isDirectory[path] == true && owners.status == 0, "\(path) left behind")
        }
        for path in ["/var/lib/numbat", "/etc/numbat", "/usr/lib/numbat", Self.enabledLink, "/etc/systemd/system/numbat.service",
                     "/var/lib/systemd/deb-systemd-helper-enabled/numbat.service.dsh-also",
                     "/var/lib/systemd/deb-systemd-helper-masked/numbat.service"] {
            #expect(!FileManager.default.fileExists(atPath: path) && (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == nil,
                    "\(path) left behind")
        }
        #expect(try await Self.getent("passwd", "numbat") == nil, "the numbat user is left")
        #expect(try await Self.getent("group", "numbat") == nil, "the numbat group is left")
    }

    static let enabledLink = "/etc/systemd/system/multi-user.target.wants/numbat.service"

    /// The package to install: `NUMBAT_PACKAGE` (scripts/test.sh builds it before the test
    /// groups, so the release build does not compete with running tests), else built now.
    /// `built`: the temporary directory it was built in, to remove afterwards.
    static func package() async throws -> (deb: String, built: URL?) {
        if let given = ProcessInfo.processInfo.environment["NUMBAT_PACKAGE"], !given.isEmpty {
            try #require(FileManager.default.fileExists(atPath: given), "NUMBAT_PACKAGE=\(given) does not exist")
            return (given, nil)
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-package-\(getpid())")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let built = try await ChildProcess.run("/bin/bash", [PackagePaths.root.appendingPathComponent("scripts/package.sh").path, "-o", output.path])
        guard built.status == 0 else {
            try? FileManager.default.removeItem(at: output)
            throw StartFailure(description: "scripts/package.sh: \(built.standardError.suffix(3000))")
        }
        return (built.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines), output)
    }

    /// The entry of `name` in the passwd or group database, nil without one.
    static func getent(_ database: String, _ name: String) async throws -> String? {
        let found = try await ChildProcess.run("/usr/bin/getent", [database, name])
        return found.status == 0 ? found.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    /// After a failure: the package purged all the same, so the machine is as before.
    static func purgeIfInstalled() {
        guard let state = try? ChildProcess.runBlocking("/usr/bin/dpkg-query", ["-W", "-f=${Status}", "numbat"]),
              state.standardOutput.contains("installed") || state.standardOutput.contains("config-files") else { return }
        _ = try? ChildProcess.runBlocking("/usr/bin/dpkg", ["--purge", "numbat"])
    }
}

/// The settings of a systemd service unit this test carries out itself: `ExecStart`, `User`,
/// `Group`, `WorkingDirectory` and `Environment` of `[Service]`.
struct ServiceUnit {
    var execStart: [String] = []
    var user = "root"
    var group = "root"
    var workingDirectory = "/"
    var environment: [String: String] = [:]

    init(contentsOf path: String) throws {
        var section = ""
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("[") { section = line; continue }
            guard section == "[Service]", !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let value = String(line[line.index(after: equals)...])
            switch line[..<equals] {
            // No quoting or specifiers in this unit's command: words split on spaces.
            case "ExecStart": execStart = value.split(separator: " ").map(String.init)
            case "User": user = value
            case "Group": group = value
            case "WorkingDirectory": workingDirectory = value
            case "Environment":
                for assignment in value.split(separator: " ") {
                    let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2 { environment[parts[0]] = parts[1] }
                }
            default: break
            }
        }
    }
}

/// The unit's command run as systemd runs it: as its user and group with no new privileges, in
/// its working directory, with only its environment (and systemd's PATH). In a mount namespace
/// of its own where `hidden` (the repository) is covered, so the build's resource bundles (the
/// binary's fallback) cannot stand in for the packaged ones. The port (0: a free one) and the
/// hidden node's name come from the environment, as an operator's drop-in would set them, so the
/// test cannot collide with another server on 8080. unshare, sh, setpriv and env each exec the
/// next: the process started is the server (SIGTERM reaches it as `systemctl stop` sends it).
enum InstalledService {
    static func start(_ unit: ServiceUnit, hiding hidden: String) async throws -> ServerProcess {
        var environment = unit.environment
        environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        environment["NUMBAT_PORT"] = "0"
        environment["NUMBAT_NODE_NAME"] = "numbatpkg\(UInt32.random(in: 0...UInt32.max))"
        let script = #"mount -t tmpfs -o size=1m numbat-hidden "$1" && cd "$2" && shift 2 && exec "$@""#
        let arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", hidden, unit.workingDirectory,
                         "/usr/bin/setpriv", "--reuid", unit.user, "--regid", unit.group, "--init-groups", "--no-new-privs", "--",
                         "/usr/bin/env", "-i"] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + unit.execStart
        return try await ServerProcess.start(arguments, executable: "/usr/bin/unshare",
                                             environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 60)
    }
}
