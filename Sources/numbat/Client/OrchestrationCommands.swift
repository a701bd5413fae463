import ArgumentParser
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatCore

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
        @Option(help: "An unencrypted Ed25519 OpenSSH private key file to log in with; without it the server logs in with OpenSSH and its user's own keys, agent and ~/.ssh/config.") var privateKey: String?
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
                let request = try CreateProviderRequest(name: name, configuration: try configuration(), secret: try secret())
                let made = try await client.client().call("POST", "/api/orch/providers", body: request, as: ProviderResponse.self)
                if client.json { return try printJSON(made.data) }
                print("provider \(made.value.id.uuidString.lowercased()) (\(made.value.kind.rawValue)) added")
                if case .physical = made.value.configuration, privateKey == nil {
                    print("the server logs in to these hosts with OpenSSH as its own user (keys, ssh-agent, ~/.ssh/config, known_hosts)")
                }
            }
        }

        /// The kind's configuration from the options; the server checks the values.
        func configuration() throws -> ProviderConfiguration {
            guard let kind = ProviderKindName(type: type, vprovider: nil) else {
                throw ValidationError("the type is physical, ec2, openstack or libcloud, not '\(type)'")
            }
            let address = try addressType.map { text in
                guard let type = ProviderAddressType(rawValue: text) else { throw ValidationError("--address-type is public or private, not '\(text)'") }
                return type
            }
            switch kind {
            case .physical:
                return .physical(PhysicalProviderSettings(hosts: try hosts.map(ProviderHost.init), directory: directory))
            case .ec2:
                return .ec2(EC2ProviderSettings(region: region ?? "us-east-1", endpoint: endpoint, accessKeyID: accessKeyId ?? ""))
            case .openstack:
                return .openstack(OpenStackProviderSettings(authURL: authUrl ?? "", username: username ?? "", projectName: project ?? "", domainName: domain,
                                                            region: region, network: network, floatingIPPool: floatingIpPool, sshPort: sshPort, addressType: address))
            case .libcloud:
                return .libcloud(LibcloudProviderSettings(driver: driver ?? "", key: key, driverOptions: driverOptions.isEmpty ? nil : try Self.options(driverOptions),
                                                          sshPort: sshPort, addressType: address))
            }
        }

        /// The kind's secret: a key file, or the environment, so secrets are in no shell
        /// history or process list.
        func secret() throws -> String? {
            let environment = ProcessInfo.processInfo.environment
            switch type {
            case "physical": return try privateKey.map { try String(contentsOfFile: ($0 as NSString).expandingTildeInPath, encoding: .utf8) }
            case "ec2": return environment["NUMBAT_EC2_SECRET"]
            case "openstack": return environment["NUMBAT_OPENSTACK_PASSWORD"]
            default: return environment["NUMBAT_LIBCLOUD_SECRET"]
            }
        }

        /// `NAME=VALUE` pairs; values that read as numbers or booleans are sent as such.
        static func options(_ pairs: [String]) throws -> [String: JSONValue] {
            var options: [String: JSONValue] = [:]
            for pair in pairs {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw ValidationError("--driver-option takes NAME=VALUE, not '\(pair)'")
                }
                options[String(pair[..<equals])] = JSONValue(commandLine: String(pair[pair.index(after: equals)...]))
            }
            return options
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List providers.")
        @OptionGroup var client: ClientOptions

        /// Where a provider's machines are: its hosts, region or driver.
        static func location(_ configuration: ProviderConfiguration) -> String {
            switch configuration {
            case .physical(let settings): settings.hosts.map(\.address).joined(separator: ",")
            case .ec2(let settings): settings.region
            case .openstack(let settings): settings.region ?? settings.authURL
            case .libcloud(let settings): settings.driver
            }
        }

        func run() async throws {
            try await runClient {
                let result = try await client.client().call("GET", "/api/orch/providers", as: ListResponse<ProviderResponse>.self)
                if client.json { return try printJSON(result.data) }
                printTable(["ID", "NAME", "KIND", "WHERE"], result.value.items.map { provider in
                    [provider.id.uuidString.lowercased(), provider.name, provider.kind.rawValue, Self.location(provider.configuration)]
                })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a provider no domain uses.")
        @Argument(help: "The provider's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient { try await client.client().send("DELETE", "/api/orch/providers/\(id)") }
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
                let fields = UploadReleaseRequest(name: name, description: description, startCmd: startCmd, stopCmd: stopCmd, cookie: cookie,
                                                  nodeNameTemplates: templates.isEmpty ? nil : templates)
                var query = URLComponents()
                query.queryItems = fields.queryItems
                // A '+' would read as a space in the server's form decoding.
                let encoded = (query.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
                let data = try Data(contentsOf: URL(fileURLWithPath: archive))
                let api = client.client()
                let made = try APIClient.decode(ReleaseResponse.self, try await api.send("POST", "/api/orch/releases?" + encoded, data: data, contentType: "application/gzip"))
                if client.json { return try printJSON(made.data) }
                print("release \(made.value.uuid.uuidString.lowercased()) uploaded: \(made.value.release) \(made.value.version), \(data.count) bytes")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List releases.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let result = try await client.client().call("GET", "/api/orch/releases", as: ListResponse<ReleaseResponse>.self)
                if client.json { return try printJSON(result.data) }
                printTable(["ID", "NAME", "RELEASE", "VERSION", "SIZE"], result.value.items.map { release in
                    [release.uuid.uuidString.lowercased(), release.name, release.release, release.version, "\(release.size)"]
                })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a release no family uses.")
        @Argument(help: "The release's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient { try await client.client().send("DELETE", "/api/orch/releases/\(id)") }
        }
    }
}

/// `numbat deploy FAMILY --provider P --amount N`: deploys and shows each node's progress until
/// all are UP (exit 0) or one fails (exit 1). Progress comes from the WebSocket's `deployment`
/// topic, subscribed before the request, so every step of every node is shown.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deploy", abstract: "Deploy nodes into a family and follow their progress.")
    @Argument(help: "The family's id.") var family: String
    @Option(help: "The provider whose domain the nodes go to (default: spread over the family's domains by its node selection).") var provider: String?
    @Option(help: "How many nodes.") var amount: Int = 1
    @Flag(help: "Unpack only; do not start the nodes.") var noAutostart = false
    @Option(help: "Give up waiting after this many seconds (the deployment goes on).") var timeout: Double = 600
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            var providerID: UUID?
            if let provider {
                guard let id = UUID(uuidString: provider) else { throw ValidationError("--provider takes a provider id, not '\(provider)'") }
                providerID = id
            }
            let request = DeployRequest(amount: amount, provider: providerID, autostart: !noAutostart)
            let (family, timeout, json) = (family, timeout, client.json)
            let outcome = try await Deadline.run(seconds: timeout) {
                try await Self.follow(api: api, family: family, request: request, json: json)
            }
            guard let outcome else {
                throw APIClient.Failure(description: "the deployment did not finish within \(Int(timeout)) s (it goes on; see numbat family show \(family))")
            }
            print("\(outcome.deployed) of \(outcome.deployed + outcome.failed) deployed" + (outcome.failed > 0 ? ", \(outcome.failed) failed" : ""))
            if outcome.failed > 0 { throw ExitCode(1) }
        }
    }

    /// Subscribes, sends the deployment, and prints each node's steps until all are done or failed.
    static func follow(api: APIClient, family: String, request: DeployRequest, json: Bool) async throws -> (deployed: Int, failed: Int) {
        let subscription = try APICoding.encoder().encode(SubscribeRequest(topics: ["deployment"]))
        let outcome = NIOLockedValueBox<(deployed: Int, failed: Int)?>(nil)
        try await WebSocketClient.connect(url: api.webSocketURL("/api/ws"), logger: Logger(label: "numbat-cli")) { inbound, outbound, _ in
            try await outbound.write(.text(String(decoding: subscription, as: UTF8.self)))
            // Steps published while the request is answered wait in the stream, in order.
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            while let message = try await messages.next() {
                guard case .text(let text) = message, let event = Self.event(text) else { continue }
                if event.type == "subscribed" { break }
            }
            let started = try await api.call("POST", "/api/orch/node_families/\(family)/nodes", body: request, as: DeployResponse.self)
            let ids = Set(started.value.nodes)
            var finished: [UUID: Bool] = [:]
            func show(_ progress: DeploymentProgress) {
                guard ids.contains(progress.nodeID) else { return }
                if json {
                    print(String(decoding: (try? APICoding.encoder().encode(progress)) ?? Data(), as: UTF8.self))
                } else {
                    let detail = progress.message.map { ": \($0)" } ?? ""
                    print("\(progress.nodeName ?? progress.nodeID.uuidString.lowercased())  \(progress.step.rawValue) \(progress.state.rawValue)\(detail)")
                }
                fflush(nil)
                if progress.step == .done || progress.step == .failed { finished[progress.nodeID] = progress.step == .done }
            }
            while finished.count < ids.count, let message = try await messages.next() {
                guard case .text(let text) = message, let progress = Self.event(text)?.deployment else { continue }
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

    /// An event from the WebSocket; nil for anything else.
    static func event(_ text: String) -> EventMessageBody? {
        try? APICoding.decoder().decode(EventMessageBody.self, from: Data(text.utf8))
    }
}

/// `numbat node start|stop|restart|delete ID` for deployed nodes.
func deployedNodeAction(_ action: String, _ id: String, _ client: ClientOptions) async throws {
    try await runClient {
        let api = client.client()
        if action == "delete" {
            try await api.send("DELETE", "/api/orch/nodes/\(id)")
            print("deleted \(id)")
            return
        }
        let node = try await api.call("POST", "/api/orch/nodes/\(id)/\(action)", as: DeployedNodeResponse.self)
        if client.json { return try printJSON(node.data) }
        print("\(node.value.name ?? id) \(node.value.status.rawValue)")
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
            let request = CreateFamilyRequest(name: name, bootstrapNodeSelection: selection, bootstrapStrategy: bootstrapCmd == nil ? "distributed_erlang" : "custom",
                                              bootstrapStrategyOptions: bootstrapCmd.map { ["cmd": $0] })
            let family = try await client.client().call("POST", "/api/topo/node_families", body: request, as: FamilyResponse.self)
            if client.json { return try printJSON(family.data) }
            print("family \(family.value.id.uuidString.lowercased()) created")
        }
    }
}

struct FamilyReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "release", abstract: "Set the release a family deploys.")
    @Argument(help: "The family's id.") var family: String
    @Argument(help: "The release's id.") var release: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            guard let releaseID = UUID(uuidString: release) else { throw ValidationError("the release is an id, not '\(release)'") }
            try await client.client().send("POST", "/api/orch/node_families/\(family)/release", body: SetFamilyReleaseRequest(release: releaseID))
        }
    }
}

struct FamilyFirewallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "firewall", abstract: "Set a family's inbound firewall rules, as the seed writes them: tcp:4369:4369,tcp:9100:9199.")
    @Argument(help: "The family's id.") var family: String
    @Argument(help: "Rules: protocol:from:to, comma-separated.") var rules: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let list = try rules.split(separator: ",").map { try FirewallRuleBody(commandLine: String($0)) }
            try await client.client().send("POST", "/api/orch/node_families/\(family)/firewall", body: list)
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
            guard let providerID = UUID(uuidString: provider) else { throw ValidationError("--provider takes a provider id, not '\(provider)'") }
            let request = AddDomainRequest(provider: providerID, sshUser: sshUser, vdisk: vdisk, hwProfile: hwProfile)
            let domain = try await client.client().call("POST", "/api/orch/node_families/\(family)/domains", body: request, as: DomainResponse.self)
            if client.json { return try printJSON(domain.data) }
            print("domain \(domain.value.id.uuidString.lowercased()) added")
        }
    }
}

struct FamilyDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a family with no nodes, and its key pairs and security groups on clouds.")
    @Argument(help: "The family's id.") var family: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient { try await client.client().send("DELETE", "/api/orch/node_families/\(family)") }
    }
}
