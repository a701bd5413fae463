import Foundation
import NumbatCore
import NumbatProviders

/// A cloud image that has only root (the seed's Rackspace, 4.1.4 step 2: "on Rackspace a
/// non-root user needs to be created"): when the domain's user refuses the family's key, Numbat
/// logs in as root with that key (the cloud put it in root's authorized_keys), makes the user
/// with the same key, and deploys as that user. Only for clouds: a physical host's users are
/// its operators', never created by Numbat.
extension NodeDeployment {
    func createUser(on deployment: inout DeploymentRecord, key: SSHKeyPair, refused: SSHError) async throws {
        let user = domain.sshUser
        let root = SSHTarget(host: deployment.address ?? "", port: deployment.sshPort, user: "root")
        let ssh: SSHConnection
        do {
            ssh = try await SSHConnection.connect(to: root, key: key, knownHostKey: deployment.hostKey)
        } catch {
            // Neither the user nor root takes the key: the first refusal is the one to report.
            throw refused
        }
        defer { Task { await ssh.close() } }
        if deployment.hostKey == nil {
            deployment.hostKey = ssh.hostKey
            try await records.save(deployment)
        }
        try await ssh.check(Self.userScript(user: user, authorizedKey: key.authorizedKey), idempotent: true, doing: "creating the user \(user) as root")
        service.logger.info("created the domain's user on a root-only image", metadata: ["node": "\(nodeID)", "user": "\(user)", "host": "\(root.host)"])
    }

    /// Makes `user` (unless it exists) with `authorizedKey` in its authorized_keys; safe to run
    /// again. `useradd` where the image has it, busybox's `adduser` otherwise. A new account's
    /// password is `*` (no password logs in), not the locked `!` those tools leave: sshd without
    /// PAM refuses every login, keys included, to a locked account. Two logins making the user at
    /// once on one host (nodes sharing a machine) would race: one's `mkdir` could make the home
    /// as root before the other's `useradd -m`; they take turns instead.
    static func userScript(user: String, authorizedKey: String) -> String {
        let name = ShellQuote.quote(user)
        let key = ShellQuote.quote(authorizedKey)
        return """
            set -e
            # Logins making the user at once on one host take turns (flock where the host has it).
            if command -v flock >/dev/null 2>&1; then exec 9>/tmp/.numbat-users.lock && flock 9; fi
            if ! id -u \(name) >/dev/null 2>&1; then
              if command -v useradd >/dev/null 2>&1; then useradd -m -s /bin/sh \(name); else adduser -D -s /bin/sh \(name); fi
              usermod -p '*' \(name) 2>/dev/null || true
            fi
            home=$(getent passwd \(name) | cut -d: -f6)
            mkdir -p "$home/.ssh"
            touch "$home/.ssh/authorized_keys"
            grep -qxF \(key) "$home/.ssh/authorized_keys" || printf '%s\\n' \(key) >> "$home/.ssh/authorized_keys"
            chown -R \(name) "$home/.ssh"
            chmod 700 "$home/.ssh"
            chmod 600 "$home/.ssh/authorized_keys"
            """
    }
}
