import ArgumentParser
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers

/// `numbat provider add|list|remove`: infrastructure providers.
struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider", abstract: "Add, list and remove infrastructure providers.", subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a provider: physical hosts reachable by SSH, EC2, OpenStack, or any Libcloud driver.",
            discussion: """
                numbat provider add physical NAME --host 10.0.0.2 --host 10.0.0.3 [--private-key ~/.ssh/id_ed25519]
                  Without --private-key Numbat makes a key and prints the line for the hosts' authorized_keys.
                numbat provider add ec2 NAME --region eu-west-1 --access-key-id AKIA... (secret from NUMBAT_EC2_SECRET)
                numbat provider add openstack NAME --auth-url https://keystone:5000/v3 --username U --project P
                    [--domain Default] [--region R] [--network private] [--floating-ip-pool public]
                  The password comes from NUMBAT_OPENSTACK_PASSWORD.
                numbat provider add libcloud NAME --driver gce [--key K] [--driver-option project=my-project]
                  The driver's secret comes from NUMBAT_LIBCLOUD_SECRET. Needs apache-libcloud for python3
                  (or NUMBAT_PYTHON) on the server: pip install apache-libcloud.
                Clouds take --ssh-port (the images' sshd, 22) and --address-type public|private.
                """)
        @Argument(help: "physical, ec2, openstack or libcloud.") var type: String
        @Argument(help: "A name for the provider.") var name: String
        @Option(name: .customLong("host"), help: "A host (address or address:port); repeat for several.") var hosts: [String] = []
        @Option(help: "Where releases go on the hosts (relative to the SSH user's home).") var directory: String?
        @Option(help: "An unencrypted Ed25519 OpenSSH private key file to log in with.") var privateKey: String?
        @Option(help: "EC2 or OpenStack region.") var region: String?
        @Option(help: "EC2 endpoint, for clouds that speak EC2's API.") var endpoint: String?
        @Option(help: "EC2 access key id; the secret key comes from NUMBAT_EC2_SECRET, never the command line.") var accessKeyId: String?
        @Option(help: "OpenStack: Keystone's URL.") var authUrl: String?
        @Option(help: "OpenStack: the user.") var username: String?
        @Option(help: "OpenStack: the project.") var project: String?
        @Option(help: "OpenStack: the user's and project's domain (Default).") var domain: String?
        @Option(help: "OpenStack: the network new servers attach to.") var network: String?
        @Option(help: "OpenStack: the external network floating IPs come from, for clouds whose servers have no public address.") var floatingIpPool: String?
        @Option(help: "Libcloud: the compute driver (dummy, ec2, openstack, gce, azure_arm, ...).") var driver: String?
        @Option(help: "Libcloud: the driver's key (its first argument).") var key: String?
        @Option(name: .customLong("driver-option"), help: "Libcloud: a keyword argument NAME=VALUE; repeat for several.") var driverOptions: [String] = []
        @Option(help: "Clouds: the port the images run sshd on.") var sshPort: Int?
        @Option(help: "Clouds: reach nodes on their public or private address.") var addressType: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let environment = ProcessInfo.processInfo.environment
                var body: [String: Any] = ["type": type, "name": name]
                if !hosts.isEmpty { body["hosts"] = hosts }
                if let directory { body["directory"] = directory }
                if let privateKey { body["private_key"] = try String(contentsOfFile: (privateKey as NSString).expandingTildeInPath, encoding: .utf8) }
                let fields: [(String, String?)] = [
                    ("region", region), ("endpoint", endpoint), ("access_key_id", accessKeyId), ("auth_url", authUrl), ("username", username),
                    ("project_name", project), ("domain_name", domain), ("network", network), ("floating_ip_pool", floatingIpPool),
                    ("driver", driver), ("key", key), ("address_type", addressType),
                ]
                for case let (field, value?) in fields { body[field] = value }
                if let sshPort { body["ssh_port"] = sshPort }
                if !driverOptions.isEmpty { body["driver_options"] = try Self.options(driverOptions) }
                // Secrets come from the environment, so they are in no shell history or process list.
                let secrets = [("secret_access_key", "NUMBAT_EC2_SECRET"), ("password", "NUMBAT_OPENSTACK_PASSWORD"), ("secret", "NUMBAT_LIBCLOUD_SECRET")]
                for (field, variable) in secrets { if let value = environment[variable] { body[field] = value } }
                let made = try await client.client().json("POST", "/api/orch/providers", body: body)
                if client.json { return try printJSON(made) }
                print("provider \(made["uuid"] as? String ?? "?") (\(made["kind"] as? String ?? type)) added")
                if type == "physical", privateKey == nil, let key = made["public_key"] as? String {
                    print("add this line to ~/.ssh/authorized_keys on every host:\n\(key)")
                }
            }
        }

        /// `NAME=VALUE` pairs; values that read as numbers or booleans are sent as such.
        static func options(_ pairs: [String]) throws -> [String: Any] {
            var options: [String: Any] = [:]
            for pair in pairs {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw ValidationError("--driver-option takes NAME=VALUE, not '\(pair)'")
                }
                let value = String(pair[pair.index(after: equals)...])
                options[String(pair[..<equals])] = Int(value).map { $0 as Any } ?? ["true": true, "false": false][value].map { $0 as Any } ?? value
            }
            return options
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
                            hosts.isEmpty ? (provider["region"] as? String ?? provider["driver"] as? String ?? "") : hosts.joined(separator: ",")]
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
/// all are UP (exit 0) or one fails (exit 1). Progress comes from the WebSocket's `deployment`
/// topic, subscribed before the request, so every step of every node is shown.
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
            let body: [String: Any] = ["amount": amount, "provider": provider, "autostart": !noAutostart]
            let request = try JSONSerialization.data(withJSONObject: body)
            let (family, timeout, json) = (family, timeout, client.json)
            let outcome = try await withThrowingTaskGroup(of: (deployed: Int, failed: Int)?.self) { group in
                group.addTask {
                    try await Self.follow(api: api, family: family, request: request, json: json)
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(timeout))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            guard let outcome else {
                throw APIClient.Failure(description: "the deployment did not finish within \(Int(timeout)) s (it goes on; see numbat family show \(family))")
            }
            print("\(outcome.deployed) of \(outcome.deployed + outcome.failed) deployed" + (outcome.failed > 0 ? ", \(outcome.failed) failed" : ""))
            if outcome.failed > 0 { throw ExitCode(1) }
        }
    }

    /// Subscribes, sends the deployment, and prints each node's steps until all are done or failed.
    static func follow(api: APIClient, family: String, request: Data, json: Bool) async throws -> (deployed: Int, failed: Int) {
        let subscription = try JSONSerialization.data(withJSONObject: ["subscribe": ["topics": ["deployment"]]])
        let outcome = NIOLockedValueBox<(deployed: Int, failed: Int)?>(nil)
        try await WebSocketClient.connect(url: api.webSocketURL("/api/ws"), logger: Logger(label: "numbat-cli")) { inbound, outbound, _ in
            try await outbound.write(.text(String(decoding: subscription, as: UTF8.self)))
            // Steps published while the request is answered wait in the stream, in order.
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            while let message = try await messages.next() {
                guard case .text(let text) = message, let object = Self.object(text) else { continue }
                if object["type"] as? String == "subscribed" { break }
            }
            let started = try await api.json("POST", "/api/orch/node_families/\(family)/nodes", data: request, contentType: "application/json")
            let ids = Set((started["nodes"] as? [String] ?? []).map { $0.lowercased() })
            var finished: [String: Bool] = [:]
            func show(_ progress: [String: Any]) {
                guard let id = (progress["node_id"] as? String)?.lowercased(), ids.contains(id) else { return }
                let step = progress["step"] as? String ?? ""
                if json {
                    print(String(decoding: (try? JSONSerialization.data(withJSONObject: progress, options: [.sortedKeys])) ?? Data(), as: UTF8.self))
                } else {
                    let detail = (progress["message"] as? String).map { ": \($0)" } ?? ""
                    print("\(progress["node_name"] as? String ?? id)  \(step) \(progress["state"] as? String ?? "")\(detail)")
                }
                fflush(nil)
                if step == "done" || step == "failed" { finished[id] = step == "done" }
            }
            while finished.count < ids.count, let message = try await messages.next() {
                guard case .text(let text) = message, let object = Self.object(text), let progress = object["deployment"] as? [String: Any] else { continue }
                show(progress)
            }
            let deployed = finished.values.filter { $0 }.count
            outcome.withLockedValue { $0 = (deployed, finished.count - deployed) }
            try await outbound.close(.normalClosure, reason: nil)
        }
        guard let result = outcome.withLockedValue({ $0 }) else {
            throw APIClient.Failure(description: "the server closed the event stream before the deployment finished")
        }
        return result
    }

    static func object(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
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
