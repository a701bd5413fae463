import Foundation
import NumbatTestSupport
import Testing

/// The orchestration commands against `numbat serve`, deploying the demo release onto namespace
/// hosts: upload, provider, family, deploy with its progress, node stop/start/delete.
@Suite("numbat provider, release, family and deploy", .requires(.namespaceHosts, .rebar3))
struct DeployCLITests {
    @Test("a deployment from the command line: upload, provider, family, deploy 2 nodes, stop and start one, delete them and the family")
    func deployFromTheCommandLine() async throws {
        let archive = try await DemoRelease.archiveFile()
        try await Session.with("deploy") { session in
            let (work, key, hosts, server) = (session.work, session.key, session.hosts, session.server)

            let uploaded = try await session.numbat("release", "upload", archive.path, "--name", "demo", "--start-cmd", "bin/numbat_demo daemon",
                                                    "--stop-cmd", "bin/numbat_demo stop", "--template", "releases/0.1.0/vm.args")
            #expect(uploaded.status == 0 && uploaded.standardOutput.contains("numbat_demo 0.1.0"), "\(uploaded.standardOutput) \(uploaded.standardError)")
            let release = Session.id(uploaded.standardOutput, after: "release")
            #expect(try await session.numbat("release", "list").standardOutput.contains(release))

            let provider = try await session.numbat("provider", "add", "physical", "lab", "--host", hosts.hosts[0].address, "--host", hosts.hosts[1].address,
                                                    "--directory", work.appendingPathComponent("hosts").path, "--private-key", key)
            #expect(provider.status == 0, "\(provider.standardError)")
            let providerID = Session.id(provider.standardOutput, after: "provider")
            #expect(try await session.numbat("provider", "list").standardOutput.contains(hosts.hosts[0].address))
            if try Requirement.libcloud.check() {
                let dummy = try await session.numbat("provider", "add", "libcloud", "dummy cloud", "--driver", "dummy", "--ssh-port", "2222")
                #expect(dummy.status == 0 && dummy.standardOutput.contains("(libcloud) added"), "\(dummy.standardOutput) \(dummy.standardError)")
                let wrong = try await session.numbat("provider", "add", "libcloud", "bad", "--driver", "dummy", "--driver-option", "color=blue")
                #expect(wrong.status != 0 && wrong.standardError.contains("unexpected keyword argument 'color'"), "\(wrong.standardError)")
                #expect(try await session.numbat("provider", "remove", Session.id(dummy.standardOutput, after: "provider")).status == 0)
            }

            let family = try await session.numbat("family", "create", "cli demo", "--bootstrap-cmd", "bin/bootstrap")
            let familyID = Session.id(family.standardOutput, after: "family")
            #expect(try await session.numbat("family", "release", familyID, release).status == 0)
            let firewall = try await session.numbat("family", "firewall", familyID, "tcp:4369:4369,tcp:9100:9199")
            #expect(firewall.status == 0, "\(firewall.standardError)")
            #expect(try await session.numbat("family", "firewall", familyID, "tcp:x").status != 0)
            #expect(try await session.numbat("family", "domain", familyID, "--provider", providerID, "--ssh-user", "root").status == 0)

            let deployed = try await session.numbat("deploy", familyID, "--provider", providerID, "--amount", "2", "--timeout", "120")
            #expect(deployed.status == 0 && deployed.standardOutput.contains("2 of 2 deployed"), "\(deployed.standardOutput) \(deployed.standardError)")
            #expect(deployed.standardOutput.contains("uploading UNINIT") && deployed.standardOutput.contains("done UP"), "the progress shows the steps")
            let nodes = Set(deployed.standardOutput.split(separator: "\n").compactMap { line -> String? in
                guard line.hasSuffix("done UP"), let name = line.split(separator: " ").first else { return nil }
                return String(name.split(separator: "@").first ?? "")
            })
            #expect(nodes.count == 2, "\(deployed.standardOutput)")
            let first = try #require(nodes.first)
            let stopped = try await session.numbat("node", "stop", first)
            #expect(stopped.status == 0 && stopped.standardOutput.hasSuffix("STOPPED\n"), "\(stopped.standardOutput) \(stopped.standardError)")
            let started = try await session.numbat("node", "start", first)
            #expect(started.status == 0 && started.standardOutput.hasSuffix("UP\n"), "\(started.standardOutput) \(started.standardError)")
            for node in nodes {
                #expect(try await session.numbat("node", "delete", node).status == 0)
            }
            let deleted = try await session.numbat("family", "delete", familyID)
            #expect(deleted.status == 0, "\(deleted.standardError)")
            #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("hosts").path), "nothing is left on the hosts")
            #expect(try await server.terminate() == 0)
        }
    }

    @Test("a rolling upgrade from the command line: 0.2.0 (with a relup) over 2 nodes with numbat upgrade start, its progress and numbat upgrade show")
    func upgradeFromTheCommandLine() async throws {
        let archives = try await DemoUpgrades.archives()
        try await Session.with("upgrade") { session in
            let (work, key, hosts, server) = (session.work, session.key, session.hosts, session.server)
            func upload(_ archive: URL, _ version: String) async throws -> String {
                let uploaded = try await session.numbat("release", "upload", archive.path, "--name", "demo \(version)", "--start-cmd", "bin/numbat_demo daemon",
                                                        "--stop-cmd", "bin/numbat_demo stop", "--template", "releases/\(version)/vm.args")
                #expect(uploaded.status == 0, "\(uploaded.standardOutput) \(uploaded.standardError)")
                return Session.id(uploaded.standardOutput, after: "release")
            }
            let v1 = try await upload(archives.v1, "0.1.0")
            let v2 = try await upload(archives.v2, "0.2.0")
            let provider = try await session.numbat("provider", "add", "physical", "lab", "--host", hosts.hosts[0].address, "--host", hosts.hosts[1].address,
                                                    "--directory", work.appendingPathComponent("hosts").path, "--private-key", key)
            let providerID = Session.id(provider.standardOutput, after: "provider")
            let familyID = Session.id(try await session.numbat("family", "create", "cli upgrade", "--bootstrap-cmd", "bin/bootstrap").standardOutput, after: "family")
            #expect(try await session.numbat("family", "release", familyID, v1).status == 0)
            #expect(try await session.numbat("family", "domain", familyID, "--provider", providerID, "--ssh-user", "root").status == 0)
            let deployed = try await session.numbat("deploy", familyID, "--amount", "2", "--timeout", "120")
            #expect(deployed.status == 0 && deployed.standardOutput.contains("2 of 2 deployed"), "\(deployed.standardOutput) \(deployed.standardError)")

            let upgraded = try await session.numbat("upgrade", "start", familyID, v2, "--batch", "1", "--timeout", "300")
            let output = upgraded.standardOutput
            #expect(upgraded.status == 0, "\(output) \(upgraded.standardError)")
            #expect(output.contains("2 nodes to 0.2.0, 1 at a time"), "\(output)")
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.filter { $0.hasSuffix("  installing") }.count == 2 && lines.filter { $0.hasSuffix("  upgraded") }.count == 2, "the progress shows each node's phases: \(output)")
            #expect(output.contains(": succeeded") && output.contains("upgraded [relup]"), "\(output)")
            let upgradeID = Session.id(lines.first ?? "", after: "upgrade").trimmingCharacters(in: CharacterSet(charactersIn: ":"))
            let shown = try await session.numbat("upgrade", "show", upgradeID)
            #expect(shown.status == 0 && shown.standardOutput.contains("to 0.2.0: succeeded"), "\(shown.standardOutput) \(shown.standardError)")
            let again = try await session.numbat("upgrade", "start", familyID, v2)
            #expect(again.status != 0 && again.standardError.contains("no node of"), "\(again.standardError)")
            let missing = try await session.numbat("upgrade", "show", UUID().uuidString)
            #expect(missing.status != 0 && missing.standardError.contains("no upgrade has id"), "\(missing.standardError)")

            for node in deployed.standardOutput.split(separator: "\n").compactMap({ $0.hasSuffix("done UP") ? $0.split(separator: "@").first.map(String.init) : nil }) {
                #expect(try await session.numbat("node", "delete", node).status == 0)
            }
            #expect(try await session.numbat("family", "delete", familyID).status == 0)
            #expect(try await server.terminate() == 0)
        }
    }

    /// One test's set-up: `numbat serve` with the CLI (`ServeSession`), an Ed25519 key in its
    /// scratch directory, and two namespace hosts that authorize it.
    struct Session {
        let serve: ServeSession
        let key: String
        let hosts: TestHosts
        var work: URL { serve.directory }
        var server: ServerProcess { serve.server }

        static func with(_ label: String, _ body: (Session) async throws -> Void) async throws {
            try await ServeSession.with(environment: ["NUMBAT_RELEASE_COOKIE": "cli-demo-cookie"], label: "\(label)-cli") { serve in
                let key = serve.directory.appendingPathComponent("id_ed25519").path
                #expect(try await ChildProcess.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status == 0)
                let authorized = try String(contentsOfFile: key + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                try await TestHosts.with(count: 2, authorizedKeys: [authorized]) { hosts in
                    try await body(Session(serve: serve, key: key, hosts: hosts))
                }
            }
        }

        /// Runs the CLI against the session's server.
        func numbat(_ arguments: String...) async throws -> ChildProcess {
            try await serve.run(arguments)
        }

        /// The word after `word` in a command's output (the id it printed).
        static func id(_ output: String, after word: String) -> String {
            output.components(separatedBy: " ").drop { $0 != word }.dropFirst().first ?? ""
        }
    }
}
