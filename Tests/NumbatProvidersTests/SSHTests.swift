import Crypto
import Foundation
import NIOCore
import NumbatTestSupport
import Testing
@testable import NumbatProviders

/// The SSH client against real sshd processes, each in a network namespace of its own.
@Suite("SSH to real hosts", .requires(.namespaceHosts))
struct SSHTests {
    @Test("commands: output, status, standard input; an upload arrives whole; output is bounded")
    func commands() async throws {
        let key = SSHKeyPair.generate()
        try await TestHosts.with(count: 1, authorizedKeys: [key.authorizedKey]) { hosts in
            let host = hosts.hosts[0]
            let ssh = try await SSHConnection.connect(to: SSHTarget(host: host.address, user: "root"), key: key)
            #expect(ssh.hostKey.hasPrefix("ssh-ed25519 "))
            let address = try await ssh.run("hostname -I")
            #expect(address.succeeded && address.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == host.address, "\(address)")
            let failing = try await ssh.run("echo oops >&2; exit 3")
            #expect(failing.exitStatus == 3 && failing.standardError == "oops\n" && failing.summary == "exit status 3: oops", "\(failing)")
            let echoed = try await ssh.run("tr a-z A-Z", input: ByteBuffer(string: "numbat"))
            #expect(echoed.standardOutput == "NUMBAT")

            var random = SeededRandom(seed: 7)
            let payload = random.bytes(5_000_000)
            let path = hosts.directory.appendingPathComponent("upload.bin").path
            try await ssh.upload(ByteBuffer(bytes: payload), to: path)
            let sum = try await ssh.run("sha256sum \(path) && ls \(path).numbat-part 2>/dev/null | wc -l")
            let expected = SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined()
            #expect(sum.standardOutput.hasPrefix(expected) && sum.standardOutput.hasSuffix("\n0\n"), "\(sum.standardOutput)")
            // From a file, a chunk at a time: the same bytes arrive.
            let local = hosts.directory.appendingPathComponent("local.bin")
            try Data(payload).write(to: local)
            try await ssh.upload(file: local, to: path + ".2")
            #expect(try await ssh.run("sha256sum \(path).2").standardOutput.hasPrefix(expected))

            let chatty = try await ssh.run("head -c 3000000 /dev/zero")
            #expect(chatty.truncated && chatty.standardOutput.utf8.count == SSHConnection.outputLimit)
            await ssh.close()
        }
    }

    @Test("a command past its timeout is cut off; the connection still works")
    func timeout() async throws {
        let key = SSHKeyPair.generate()
        try await TestHosts.with(count: 1, authorizedKeys: [key.authorizedKey]) { hosts in
            let ssh = try await SSHConnection.connect(to: SSHTarget(host: hosts.hosts[0].address, user: "root"), key: key)
            // Not cut off, `sleep 30` would end normally and throw nothing.
            await #expect(throws: SSHError.self) { try await ssh.run("sleep 30", timeout: .milliseconds(500)) }
            #expect(try await ssh.run("echo still").standardOutput == "still\n")
            await ssh.close()
        }
    }

    @Test("refusals are clear: a key not authorized, a changed host key, a host nobody answers on")
    func refusals() async throws {
        let key = SSHKeyPair.generate()
        try await TestHosts.with(count: 1, authorizedKeys: [key.authorizedKey]) { hosts in
            let target = SSHTarget(host: hosts.hosts[0].address, user: "root")
            do {
                _ = try await SSHConnection.connect(to: target, key: SSHKeyPair.generate())
                Issue.record("an unknown key logged in")
            } catch let error as SSHError {
                #expect(error.description.contains("refused Numbat's key"), "\(error)")
            }
            let other = SSHKeyPair.generate().publicKey
            do {
                _ = try await SSHConnection.connect(to: target, key: key, knownHostKey: other)
                Issue.record("a changed host key was accepted")
            } catch let error as SSHError {
                #expect(error.description.contains("host key of \(target.host) changed"), "\(error)")
            }
            let first = try await SSHConnection.connect(to: target, key: key)
            let again = try await SSHConnection.connect(to: target, key: key, knownHostKey: first.hostKey)
            await first.close()
            await again.close()
            let nobody = SSHTarget(host: hosts.gateway.replacingOccurrences(of: ".1", with: ".250", options: .anchored.union(.backwards)), user: "root")
            await #expect(throws: SSHError.self) { try await SSHConnection.connect(to: nobody, key: key, timeout: .seconds(2)) }
        }
    }

    @Test("OpenSSH key files: ssh-keygen's Ed25519 keys log in; ours read back with ssh-keygen; RSA and passphrases refused clearly")
    func keyFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let made = directory.appendingPathComponent("made").path
        #expect(try await ChildProcess.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ops@example", "-f", made]).status == 0)
        let parsed = try SSHKeyPair(openSSHPrivateKey: String(contentsOfFile: made, encoding: .utf8))
        #expect(parsed.comment == "ops@example")
        #expect(parsed.authorizedKey == (try String(contentsOfFile: made + ".pub", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))

        let ours = SSHKeyPair.generate(comment: "numbat-family")
        let written = directory.appendingPathComponent("ours").path
        FileManager.default.createFile(atPath: written, contents: Data(ours.openSSHPrivateKey.utf8), attributes: [.posixPermissions: 0o600])
        let derived = try await ChildProcess.run("/usr/bin/ssh-keygen", ["-y", "-f", written])
        #expect(derived.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == ours.authorizedKey, "\(derived.standardError)")
        #expect(try SSHKeyPair(openSSHPrivateKey: ours.openSSHPrivateKey).rawRepresentation == ours.rawRepresentation)

        let rsa = directory.appendingPathComponent("rsa").path
        let locked = directory.appendingPathComponent("locked").path
        _ = try await ChildProcess.run("/usr/bin/ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa])
        _ = try await ChildProcess.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "secret", "-f", locked])
        for (file, words) in [(rsa, "ssh-rsa"), (locked, "passphrase")] {
            do {
                _ = try SSHKeyPair(openSSHPrivateKey: String(contentsOfFile: file, encoding: .utf8))
                Issue.record("\(file) was accepted")
            } catch let error as SSHKeyPair.Failure {
                #expect(error.description.contains(words), "\(error)")
            }
        }
        for damaged in ["", "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n-----END OPENSSH PRIVATE KEY-----",
                        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n-----END OPENSSH PRIVATE KEY-----"] {
            #expect(throws: SSHKeyPair.Failure.self) { try SSHKeyPair(openSSHPrivateKey: damaged) }
        }

        try await TestHosts.with(count: 1, authorizedKeys: [parsed.authorizedKey]) { hosts in
            let ssh = try await SSHConnection.connect(to: SSHTarget(host: hosts.hosts[0].address, user: "root"), key: parsed)
            #expect(try await ssh.run("true").succeeded)
            await ssh.close()
        }
    }
}
