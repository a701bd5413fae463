import Crypto
import Foundation
import NIOCore
import NumbatTestSupport
import Testing
@testable import NumbatProviders

/// OpenSSH's client as Numbat's transport, against real sshd processes in network namespaces,
/// with an operator's files (an RSA key, known_hosts, ssh_config) of the test's own.
@Suite("OpenSSH to real hosts", .requires(.namespaceHosts))
struct OpenSSHTests {
    static func settings(_ client: OperatorSSH, agent: SSHAgent? = nil) -> OpenSSHSettings {
        OpenSSHSettings(configFile: client.configFile.path, agentSocket: agent?.socket)
    }

    @Test("an RSA key named in the ssh_config: output, status, standard input, atomic uploads, bounded output, over one shared login")
    func commands() async throws {
        try await OperatorSSH.with(hosts: 1) { client, hosts in
            let host = hosts.hosts[0]
            let ssh = try await OpenSSHSession.connect(to: SSHTarget(host: host.address, user: "root"), settings: Self.settings(client))
            let address = try await ssh.run("hostname -I")
            #expect(address.succeeded && address.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == host.address, "\(address)")
            let failing = try await ssh.run("echo oops >&2; exit 3")
            #expect(failing.exitStatus == 3 && failing.standardError == "oops\n" && failing.summary == "exit status 3: oops", "\(failing)")
            #expect(try await ssh.run("exit 255").exitStatus == 255, "a command's own 255 is a result, not a transport failure")
            #expect(try await ssh.run("tr a-z A-Z", input: ByteBuffer(string: "numbat")).standardOutput == "NUMBAT")

            var random = SeededRandom(seed: 11)
            let payload = random.bytes(5_000_000)
            let path = hosts.directory.appendingPathComponent("upload.bin").path
            try await ssh.upload(ByteBuffer(bytes: payload), to: path)
            let expected = SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined()
            let sum = try await ssh.run("sha256sum \(path) && ls \(path).numbat-part 2>/dev/null | wc -l")
            #expect(sum.standardOutput.hasPrefix(expected) && sum.standardOutput.hasSuffix("\n0\n"), "\(sum.standardOutput)")
            let local = hosts.directory.appendingPathComponent("local.bin")
            try Data(payload).write(to: local)
            try await ssh.upload(file: local, to: path + ".2", mode: "0600")
            #expect(try await ssh.run("sha256sum \(path).2 && stat -c %a \(path).2").standardOutput == "\(expected)  \(path).2\n600\n")

            let chatty = try await ssh.run("head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2")
            #expect(chatty.truncated && chatty.standardOutput.utf8.count == SSHCommandResult.outputLimit
                && chatty.standardError.utf8.count == SSHCommandResult.outputLimit)
            await ssh.close()
            // Every command went over the master's one login, made with the RSA key.
            let log = try String(contentsOf: hosts.directory.appendingPathComponent("sshd_0.log"), encoding: .utf8)
            let logins = log.split(separator: "\n").filter { $0.contains("Accepted publickey for root") }
            #expect(logins.count == 1 && logins[0].contains("ssh2: RSA "), "\(logins)")
        }
    }

    @Test("a command past its timeout is killed here and on the host; an interrupted upload leaves nothing under the real name")
    func timeouts() async throws {
        try await OperatorSSH.with(hosts: 1) { client, hosts in
            let ssh = try await OpenSSHSession.connect(to: SSHTarget(host: hosts.hosts[0].address, user: "root"), settings: Self.settings(client))
            // A duration no other process has, to find it on the host (the bracket keeps pgrep's
            // own command line from matching).
            let duration = "7\(Int.random(in: 100_000...999_999))"
            await #expect(throws: SSHError.self) { try await ssh.run("sleep \(duration)", timeout: .milliseconds(500)) }
            let left = try await ssh.run("pgrep -f '[s]leep \(duration)' | wc -l")
            #expect(left.standardOutput == "0\n", "the remote command was killed: \(left)")

            // The upload reads a FIFO that never ends: it can only stop at its deadline.
            let fifo = hosts.directory.appendingPathComponent("never-ending")
            #expect(mkfifo(fifo.path, 0o600) == 0)
            let writer = Task { try await offPool { () -> FileHandle in
                let handle = try FileHandle(forWritingTo: fifo)
                try handle.write(contentsOf: Data(repeating: 0x61, count: 200_000))
                return handle
            } }
            let path = hosts.directory.appendingPathComponent("half.bin").path
            await #expect(throws: SSHError.self) { try await ssh.upload(.file(fifo), to: path, timeout: .seconds(2)) }
            try await writer.value.close()
            #expect(!FileManager.default.fileExists(atPath: path), "no half file under the real name")
            #expect(try await ssh.run("echo still").standardOutput == "still\n")
            await ssh.close()
        }
    }

    @Test("refusals are clear: a changed host key, a key not authorized, nobody listening")
    func refusals() async throws {
        try await OperatorSSH.with(hosts: 1) { client, hosts in
            let target = SSHTarget(host: hosts.hosts[0].address, user: "root")
            // First use: the key is learnt (accept-new) and written to the config's known_hosts.
            await (try await OpenSSHSession.connect(to: target, settings: Self.settings(client))).close()
            let learnt = try String(contentsOf: client.knownHosts, encoding: .utf8)
            #expect(learnt.hasPrefix(target.host + " ssh-ed25519 "), "\(learnt)")
            // Another key for the host in known_hosts: the host's key "changed".
            try await TestHosts.sh("ssh-keygen -q -t ed25519 -N '' -f \(client.directory.path)/other")
            let other = try String(contentsOf: client.directory.appendingPathComponent("other.pub"), encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
            try "\(target.host) \(other)\n".write(to: client.knownHosts, atomically: true, encoding: .utf8)
            await #expect(throws: SSHError.self, "a changed host key is refused") {
                do { _ = try await OpenSSHSession.connect(to: target, settings: Self.settings(client)) } catch let error as SSHError {
                    #expect(error.description.contains("the host key of \(target.host) changed"), "\(error)")
                    throw error
                }
            }
            try learnt.write(to: client.knownHosts, atomically: true, encoding: .utf8)

            // A key the host does not know.
            // (IdentityFile lines add up over the matching blocks: the defaults name none here.)
            try client.writeConfig(hosts: "Host \(target.host)\n  IdentityFile \(client.directory.path)/other\n  IdentitiesOnly yes\n", keyFile: false)
            await #expect(throws: SSHError.self, "an unknown key is refused") {
                do { _ = try await OpenSSHSession.connect(to: target, settings: Self.settings(client)) } catch let error as SSHError {
                    #expect(error.description.contains("refused the login") && error.description.contains("Permission denied"), "\(error)")
                    throw error
                }
            }
            try client.writeConfig()

            // Nothing listens on port 2 there.
            await #expect(throws: SSHError.self, "a closed port is unreachable") {
                do { _ = try await OpenSSHSession.connect(to: SSHTarget(host: target.host, port: 2, user: "root"), settings: Self.settings(client)) } catch let error as SSHError {
                    #expect(error.description.contains("cannot reach \(target.host)") && error.description.contains("Connection refused"), "\(error)")
                    throw error
                }
            }
        }
    }

    @Test("a host whose sshd only the bastion reaches: through the ProxyJump the ssh_config names; a jump that cannot go on is named")
    func bastion() async throws {
        try await OperatorSSH.with(hosts: 2, behindBastion: 1) { client, hosts in
            let (bastion, hidden) = (hosts.hosts[0], hosts.hosts[1])
            #expect(!canConnect(host: hidden.address, port: 22), "the hidden host's sshd is not on its bridge address")
            try client.writeConfig(hosts: """
                Host \(hidden.address)
                  HostName \(hidden.sshAddress)
                  ProxyJump \(bastion.address)
                Host broken-jump
                  HostName \(hidden.sshAddress)
                  Port 2222
                  ProxyJump \(bastion.address)
                """)
            let ssh = try await OpenSSHSession.connect(to: SSHTarget(host: hidden.address, user: "root"), settings: Self.settings(client))
            let addresses = try await ssh.run("hostname -I").standardOutput
            #expect(addresses.contains(hidden.sshAddress) && addresses.contains(hidden.address), "\(addresses)")
            await ssh.close()
            let log = try String(contentsOf: hosts.directory.appendingPathComponent("sshd_1.log"), encoding: .utf8)
            #expect(log.contains("Accepted publickey for root from 192.168.1.1 "), "the login came from the bastion's side of the private link: \(log)")

            // The port is the config's (the target says 22, which leaves it to the config).
            await #expect(throws: SSHError.self) {
                do { _ = try await OpenSSHSession.connect(to: SSHTarget(host: "broken-jump", user: "root"), settings: Self.settings(client)) } catch let error as SSHError {
                    #expect(error.description.contains("through its jump host (ProxyJump") && error.description.contains(bastion.address), "\(error)")
                    throw error
                }
            }
        }
    }

    @Test("ssh's messages name the failure")
    func failures() {
        #expect(OpenSSHFailure(standardError: "root@h: Permission denied (publickey).\n") == .permissionDenied)
        #expect(OpenSSHFailure(standardError: "ssh: connect to host 10.0.0.9 port 22: No route to host\n") == .unreachable)
        #expect(OpenSSHFailure(standardError: "channel 0: open failed: connect failed: Connection refused\nstdio forwarding failed\n") == .jumpFailed(via: nil))
        #expect(OpenSSHFailure(standardError: "No ED25519 host key is known for h and you have requested strict checking.\nHost key verification failed.\n") == .hostKeyUnknown)
        #expect(OpenSSHFailure(standardError: "") == nil)
        #expect(OpenSSHFailure(standardError: "the remote command's own complaint\n") == nil)
    }
}
