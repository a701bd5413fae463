import ArgumentParser
import Foundation

/// `numbat provider add|list|remove`: infrastructure providers.
struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider", abstract: "Add, list and remove infrastructure providers.", subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a provider: physical hosts reachable by SSH, or EC2.",
            discussion: """
                numbat provider add physical NAME --host 10.0.0.2 --host 10.0.0.3 [--private-key ~/.ssh/id_ed25519]
                  Without --private-key Numbat makes a key and prints the line for the hosts' authorized_keys.
                numbat provider add ec2 NAME --region eu-west-1 --access-key-id AKIA... (secret from NUMBAT_EC2_SECRET)
                """)
        @Argument(help: "physical or ec2.") var type: String
        @Argument(help: "A name for the provider.") var name: String
        @Option(name: .customLong("host"), help: "A host (address or address:port); repeat for several.") var hosts: [String] = []
        @Option(help: "Where releases go on the hosts (relative to the SSH user's home).") var directory: String?
        @Option(help: "An unencrypted Ed25519 OpenSSH private key file to log in with.") var privateKey: String?
        @Option(help: "EC2 region.") var region: String?
        @Option(help: "EC2 endpoint, for clouds that speak EC2's API.") var endpoint: String?
        @Option(help: "EC2 access key id; the secret key comes from NUMBAT_EC2_SECRET, never the command line.") var accessKeyId: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                var body: [String: Any] = ["type": type, "name": name]
                if !hosts.isEmpty { body["hosts"] = hosts }
                if let directory { body["directory"] = directory }
                if let privateKey { body["private_key"] = try String(contentsOfFile: (privateKey as NSString).expandingTildeInPath, encoding: .utf8) }
                if let region { body["region"] = region }
                if let endpoint { body["endpoint"] = endpoint }
                if let accessKeyId { body["access_key_id"] = accessKeyId }
                if let secret = ProcessInfo.processInfo.environment["NUMBAT_EC2_SECRET"] { body["secret_access_key"] = secret }
                let made = try await client.client().json("POST", "/api/orch/providers", body: body)
                if client.json { return try printJSON(made) }
                print("provider \(made["uuid"] as? String ?? "?") (\(made["kind"] as? String ?? type)) added")
                if privateKey == nil, let key = made["public_key"] as? String {
                    print("add this line to ~/.ssh/authorized_keys on every host:\n\(key)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List providers.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let result = try await client.client().json("GET", "/api/orch/providers")
                if client.json { return try printJSON(result) }
                printTable(["ID", "NAME", "KIND", "WHERE"], (result["items"] as? [[String: Any]] ?? []).map { provider in
                    let hosts = (provider["hosts"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
                    return [provider["uuid"] as? String ?? "", provider["name"] as? String ?? "", provider["kind"] as? String ?? "",
                            hosts.isEmpty ? (provider["region"] as? String ?? "") : hosts.joined(separator: ",")]
                })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a provider no domain uses.")
        @Argument(help: "The provider's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient { _ = try await client.client().send("DELETE", "/api/orch/providers/\(id)") }
        }
    }
}

/// `numbat release upload|list|remove`: Erlang releases to deploy.
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Upload, list and remove releases.", subcommands: [Upload.self, List.self, Remove.self])

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a release archive (.tar.gz from rebar3 tar or mix release).",
            discussion: "The cookie comes from --cookie-file or NUMBAT_RELEASE_COOKIE, never the command line.")
        @Argument(help: "The .tar.gz archive.") var archive: String
        @Option(help: "A name for the release.") var name: String
        @Option(help: "The start command, run in the node's directory.") var startCmd: String
        @Option(help: "The stop command.") var stopCmd: String
        @Option(help: "A file holding the release's cookie.") var cookieFile: String?
        @Option(name: .customLong("template"), help: "A path in the archive whose {{ node_name }} is replaced per node; repeat for several.") var templates: [String] = []
        @Option(help: "A description.") var description: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let cookie = try cookieFile.map { try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
                    ?? ProcessInfo.processInfo.environment["NUMBAT_RELEASE_COOKIE"]
                guard let cookie, !cookie.isEmpty else { throw APIClient.Failure(description: "give the cookie with --cookie-file or NUMBAT_RELEASE_COOKIE") }
                var query = URLComponents()
                query.queryItems = [URLQueryItem(name: "name", value: name), URLQueryItem(name: "start_cmd", value: startCmd),
                                    URLQueryItem(name: "stop_cmd", value: stopCmd), URLQueryItem(name: "cookie", value: cookie)]
                    + (templates.isEmpty ? [] : [URLQueryItem(name: "node_name_templates", value: templates.joined(separator: ","))])
                    + (description.map { [URLQueryItem(name: "description", value: $0)] } ?? [])
                let data = try Data(contentsOf: URL(fileURLWithPath: archive))
                let made = try await client.client().json("POST", "/api/orch/releases?" + (query.percentEncodedQuery ?? ""), data: data, contentType: "application/gzip")
                if client.json { return try printJSON(made) }
                print("release \(made["uuid"] as? String ?? "?") uploaded: \(made["release"] as? String ?? "") \(made["version"] as? String ?? ""), \(data.count) bytes")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List releases.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let result = try await client.client().json("GET", "/api/orch/releases")
                if client.json { return try printJSON(result) }
                printTable(["ID", "NAME", "RELEASE", "VERSION", "SIZE"], (result["items"] as? [[String: Any]] ?? []).map { release in
                    [release["uuid"] as? String ?? "", release["name"] as? String ?? "", release["release"] as? String ?? "",
                     release["version"] as? String ?? "", "\(release["size"] as? Int ?? 0)"]
                })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a release no family uses.")
        @Argument(help: "The release's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient { _ = try await client.client().send("DELETE", "/api/orch/releases/\(id)") }
        }
    }
}

/// `numbat deploy FAMILY --provider P --amount N`: deploys and shows each node's progress until
/// all are UP (exit 0) or one fails (exit 1).
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deploy", abstract: "Deploy nodes into a family and follow their progress.")
    @Argument(help: "The family's id.") var family: String
    @Option(help: "The provider whose domain the nodes go to.") var provider: String
    @Option(help: "How many nodes.") var amount: Int = 1
    @Flag(help: "Unpack only; do not start the nodes.") var noAutostart = false
    @Option(help: "Give up waiting after this many seconds (the deployment goes on).") var timeout: Double = 600
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            let started = try await api.json("POST", "/api/orch/node_families/\(family)/nodes",
                                             body: ["amount": amount, "provider": provider, "autostart": !noAutostart])
            let ids = Set(started["nodes"] as? [String] ?? [])
            var seen: [String: String] = [:]
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let listed = try await api.json("GET", "/api/orch/node_families/\(family)/nodes")["items"] as? [[String: Any]] ?? []
                let mine = listed.filter { ids.contains($0["id"] as? String ?? "") }
                for node in mine {
                    let id = node["id"] as? String ?? ""
                    let line = "\(node["step"] as? String ?? "") \(node["status"] as? String ?? "")"
                    if seen[id] != line {
                        seen[id] = line
                        let detail = (node["last_error"] as? String).map { ": \($0)" } ?? ""
                        print("\(node["name"] as? String ?? id)  \(line)\(detail)")
                        fflush(nil)
                    }
                }
                let finished = mine.filter { ["done", "failed"].contains($0["step"] as? String ?? "") }
                if finished.count == ids.count {
                    let failed = finished.filter { $0["step"] as? String == "failed" }.count
                    print("\(ids.count - failed) of \(ids.count) deployed" + (failed > 0 ? ", \(failed) failed" : ""))
                    if failed > 0 { throw ExitCode(1) }
                    return
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            throw APIClient.Failure(description: "the deployment did not finish within \(Int(timeout)) s (it goes on; see numbat family show \(family))")
        }
    }
}

/// `numbat node start|stop|restart|delete ID` for deployed nodes.
func deployedNodeAction(_ action: String, _ id: String, _ client: ClientOptions) async throws {
    try await runClient {
        let api = client.client()
        if action == "delete" {
            _ = try await api.send("DELETE", "/api/orch/nodes/\(id)")
            print("deleted \(id)")
            return
        }
        let node = try await api.json("POST", "/api/orch/nodes/\(id)/\(action)")
        if client.json { return try printJSON(node) }
        print("\(node["name"] as? String ?? id) \(node["status"] as? String ?? "")")
    }
}

struct NodeStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a deployed node (its release's start command) and rejoin it to its family.")
    @Argument(help: "The node's id.") var id: String
    @OptionGroup var client: ClientOptions
    func run() async throws { try await deployedNodeAction("start", id, client) }
}

struct NodeStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop a deployed node (its release's stop command); it stays STOPPED.")
    @Argument(help: "The node's id.") var id: String
    @OptionGroup var client: ClientOptions
    func run() async throws { try await deployedNodeAction("stop", id, client) }
}

struct NodeRestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Stop, then start, a deployed node.")
    @Argument(help: "The node's id.") var id: String
    @OptionGroup var client: ClientOptions
    func run() async throws { try await deployedNodeAction("restart", id, client) }
}

struct NodeDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Stop a deployed node, remove it from its host, destroy its instance and forget it.")
    @Argument(help: "The node's id.") var id: String
    @OptionGroup var client: ClientOptions
    func run() async throws { try await deployedNodeAction("delete", id, client) }
}

/// `numbat family create|release|firewall|domain|delete`: deployment families.
struct FamilyCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a deployment family.")
    @Argument(help: "The family's name.") var name: String
    @Option(help: "How a node to join is picked: random or round_robin.") var selection = "random"
    @Option(help: "A command in the release run with the joined node's name (the custom bootstrap strategy); without it Numbat connects the nodes itself.") var bootstrapCmd: String?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            var body: [String: Any] = ["name": name, "bootstrap_node_selection": selection,
                                       "bootstrap_strategy": bootstrapCmd == nil ? "distributed_erlang" : "custom"]
            if let bootstrapCmd { body["bootstrap_strategy_opts"] = ["cmd": bootstrapCmd] }
            let family = try await client.client().json("POST", "/api/topo/node_families", body: body)
            if client.json { return try printJSON(family) }
            print("family \(family["id"] as? String ?? "?") created")
        }
    }
}

struct FamilyReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "release", abstract: "Set the release a family deploys.")
    @Argument(help: "The family's id.") var family: String
    @Argument(help: "The release's id.") var release: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient { _ = try await client.client().json("POST", "/api/orch/node_families/\(family)/release", body: ["release": release]) }
    }
}

struct FamilyFirewallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "firewall", abstract: "Set a family's inbound firewall rules, as the seed writes them: tcp:4369:4369,tcp:9100:9199.")
    @Argument(help: "The family's id.") var family: String
    @Argument(help: "Rules: protocol:from:to, comma-separated.") var rules: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let list = try rules.split(separator: ",").map { rule -> [String: Any] in
                let parts = rule.split(separator: ":").map(String.init)
                guard parts.count == 3, let from = Int(parts[1]), let to = Int(parts[2]) else {
                    throw ValidationError("'\(rule)' is not protocol:from:to")
                }
                return ["protocol": parts[0], "port_from": from, "port_to": to]
            }
            _ = try await client.client().json("POST", "/api/orch/node_families/\(family)/firewall",
                                               data: try JSONSerialization.data(withJSONObject: list), contentType: "application/json")
        }
    }
}

struct FamilyDomainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "domain", abstract: "Add a deployment domain: the family on one provider.")
    @Argument(help: "The family's id.") var family: String
    @Option(help: "The provider's id.") var provider: String
    @Option(help: "The user Numbat logs in as.") var sshUser: String
    @Option(help: "The image (cloud providers).") var vdisk = ""
    @Option(help: "The machine size (cloud providers).") var hwProfile = ""
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let domain = try await client.client().json("POST", "/api/orch/node_families/\(family)/domains",
                                                        body: ["provider": provider, "ssh_user": sshUser, "vdisk": vdisk, "hw_profile": hwProfile])
            if client.json { return try printJSON(domain) }
            print("domain \(domain["id"] as? String ?? "?") added")
        }
    }
}

struct FamilyDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a family with no nodes, and its key pairs and security groups on clouds.")
    @Argument(help: "The family's id.") var family: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient { _ = try await client.client().send("DELETE", "/api/orch/node_families/\(family)") }
    }
}
