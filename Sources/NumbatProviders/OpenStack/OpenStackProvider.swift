import Foundation

/// OpenStack through its own REST APIs: Keystone v3 for the token and catalog, Nova for servers,
/// flavors and key pairs, Neutron for security groups and floating IPs, Glance for images. The
/// seed's two clouds differ the way OpenStack clouds still do: some give servers a public address
/// (Rackspace), others only a private one that needs a floating IP (HP Cloud); set
/// `floatingIPNetwork` for the second kind. Floating IPs are released with their server, so a
/// deleted node leaves nothing billed behind.
public struct OpenStackProvider: InfrastructureProvider {
    public struct Configuration: Sendable {
        public var credentials: KeystoneSession.Credentials
        /// The network (name or id) new servers attach to; nil lets Nova choose.
        public var network: String?
        /// The external network (name or id) floating IPs come from; nil: use the server's own address.
        public var floatingIPNetwork: String?
        public var sshPort: Int
        public var launchTimeout: Duration
        public var pollInterval: Duration

        public init(credentials: KeystoneSession.Credentials, network: String? = nil, floatingIPNetwork: String? = nil, sshPort: Int = 22,
                    launchTimeout: Duration = .seconds(600), pollInterval: Duration = .seconds(2)) {
            self.credentials = credentials
            self.network = network
            self.floatingIPNetwork = floatingIPNetwork
            self.sshPort = sshPort
            self.launchTimeout = launchTimeout
            self.pollInterval = pollInterval
        }
    }

    public let configuration: Configuration
    public let session: KeystoneSession
    public var kind: ProviderKind { .openstack }

    public init(configuration: Configuration, session: KeystoneSession? = nil) {
        self.configuration = configuration
        self.session = session ?? KeystoneSession(credentials: configuration.credentials)
    }

    // MARK: Servers

    public func createInstance(_ request: InstanceRequest) async throws -> ProvisionedInstance {
        // A launch retried after a lost answer finds its server by name.
        let id: String
        if let existing = try await serverIDs(named: request.name).first {
            id = existing
        } else {
            var server: [String: Any] = ["name": request.name, "imageRef": request.image, "flavorRef": request.size,
                                         "metadata": ["created_by": "numbat"]]
            if let key = request.keyName { server["key_name"] = key }
            if let group = request.securityGroup, !group.isEmpty { server["security_groups"] = [["name": group]] }
            if let network = configuration.network { server["networks"] = [["uuid": try await networkID(network)]] }
            let answer = try await call("POST", .compute, "/servers", ["server": server], expect: [200, 202])
            guard let made = (answer["server"] as? [String: Any])?["id"] as? String else { throw ProviderError("Nova answered without a server id") }
            id = made
        }
        do {
            var instance = try await waitUntilActive(id: id)
            if let pool = configuration.floatingIPNetwork {
                instance.address = try await floatingIP(for: id, network: pool)
            }
            return instance
        } catch {
            // Never leave a server (or its floating IP) behind that nobody will manage.
            try? await destroyInstance(id: id)
            throw error
        }
    }

    private func waitUntilActive(id: String) async throws -> ProvisionedInstance {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.launchTimeout
        while true {
            if let instance = try await instance(id: id) {
                if instance.state == "ACTIVE", instance.address != nil || configuration.floatingIPNetwork != nil { return instance }
                if instance.state == "ERROR" { throw ProviderError("server \(id) went into ERROR while building") }
            } else {
                throw ProviderError("server \(id) disappeared while building")
            }
            guard clock.now < deadline else { throw ProviderError("server \(id) was not ACTIVE with an address within \(configuration.launchTimeout)") }
            try await Task.sleep(for: configuration.pollInterval)
        }
    }

    public func destroyInstance(id: String) async throws {
        // Floating IPs outlive their server unless released: release them first.
        for floating in try await floatingIPs(ofServer: id) {
            _ = try await call("DELETE", .network, "/v2.0/floatingips/\(floating)", nil, expect: [204], missingIsFine: true)
        }
        _ = try await call("DELETE", .compute, "/servers/\(id)", nil, expect: [202, 204], missingIsFine: true)
    }

    public func instance(id: String) async throws -> ProvisionedInstance? {
        let answer = try await call("GET", .compute, "/servers/\(id)", nil, expect: [200], missingIsFine: true)
        guard let server = answer["server"] as? [String: Any] else { return nil }
        let status = server["status"] as? String ?? "UNKNOWN"
        return ProvisionedInstance(id: id, address: Self.address(of: server), sshPort: configuration.sshPort, state: status)
    }

    /// The server's address: a floating one first, then a fixed IPv4 one.
    static func address(of server: [String: Any]) -> String? {
        let entries = (server["addresses"] as? [String: [[String: Any]]] ?? [:]).sorted { $0.key < $1.key }.flatMap(\.value)
        let v4 = entries.filter { ($0["version"] as? Int ?? 4) == 4 }
        let floating = v4.first { $0["OS-EXT-IPS:type"] as? String == "floating" }
        return (floating ?? v4.first)?["addr"] as? String
    }

    /// Servers of this name (Nova's name filter is a regular expression: anchor and escape it).
    public func serverIDs(named name: String) async throws -> [String] {
        let pattern = "^" + NSRegularExpression.escapedPattern(for: name) + "$"
        let answer = try await call("GET", .compute, "/servers?name=\(Self.query(pattern))", nil, expect: [200])
        return (answer["servers"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    // MARK: Floating IPs

    private func floatingIP(for server: String, network: String) async throws -> String {
        let networkID = try await self.networkID(network)
        let ports = try await call("GET", .network, "/v2.0/ports?device_id=\(Self.query(server))", nil, expect: [200])
        guard let port = (ports["ports"] as? [[String: Any]])?.first?["id"] as? String else {
            throw ProviderError("server \(server) has no network port to attach a floating IP to")
        }
        if let existing = try await floatingIPAddresses(port: port).first { return existing }
        let answer = try await call("POST", .network, "/v2.0/floatingips", ["floatingip": ["floating_network_id": networkID, "port_id": port]], expect: [201])
        guard let address = (answer["floatingip"] as? [String: Any])?["floating_ip_address"] as? String else {
            throw ProviderError("Neutron answered without a floating IP address")
        }
        return address
    }

    private func floatingIPAddresses(port: String) async throws -> [String] {
        let answer = try await call("GET", .network, "/v2.0/floatingips?port_id=\(Self.query(port))", nil, expect: [200])
        return (answer["floatingips"] as? [[String: Any]] ?? []).compactMap { $0["floating_ip_address"] as? String }
    }

    /// The ids of the floating IPs on a server's ports.
    public func floatingIPs(ofServer server: String) async throws -> [String] {
        let ports = try await call("GET", .network, "/v2.0/ports?device_id=\(Self.query(server))", nil, expect: [200])
        var ids: [String] = []
        for port in (ports["ports"] as? [[String: Any]] ?? []).compactMap({ $0["id"] as? String }) {
            let answer = try await call("GET", .network, "/v2.0/floatingips?port_id=\(Self.query(port))", nil, expect: [200])
            ids += (answer["floatingips"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
        return ids
    }

    /// A network's id from its name or id.
    private func networkID(_ nameOrID: String) async throws -> String {
        let byID = try await call("GET", .network, "/v2.0/networks?id=\(Self.query(nameOrID))", nil, expect: [200])
        if let id = (byID["networks"] as? [[String: Any]])?.first?["id"] as? String { return id }
        let byName = try await call("GET", .network, "/v2.0/networks?name=\(Self.query(nameOrID))", nil, expect: [200])
        guard let id = (byName["networks"] as? [[String: Any]])?.first?["id"] as? String else {
            throw ProviderError("OpenStack has no network '\(nameOrID)'", code: "network_not_found")
        }
        return id
    }

    // MARK: Key pairs and security groups

    public func importKeyPair(name: String, publicKey: String) async throws {
        // Imported by an earlier attempt: replace it, so the key is surely the family's.
        try await deleteKeyPair(name: name)
        _ = try await call("POST", .compute, "/os-keypairs", ["keypair": ["name": name, "public_key": publicKey]], expect: [200, 201])
    }

    public func deleteKeyPair(name: String) async throws {
        _ = try await call("DELETE", .compute, "/os-keypairs/\(Self.path(name))", nil, expect: [202, 204], missingIsFine: true)
    }

    public func keyPairNames() async throws -> [String] {
        let answer = try await call("GET", .compute, "/os-keypairs", nil, expect: [200])
        return (answer["keypairs"] as? [[String: Any]] ?? []).compactMap { ($0["keypair"] as? [String: Any])?["name"] as? String }
    }

    public func createSecurityGroup(name: String, description: String, rules: [FirewallRule]) async throws -> String {
        let answer = try await call("POST", .network, "/v2.0/security-groups", ["security_group": ["name": name, "description": description]], expect: [201])
        guard let id = (answer["security_group"] as? [String: Any])?["id"] as? String else { throw ProviderError("Neutron answered without a group id") }
        do {
            for rule in rules {
                var fields: [String: Any] = ["security_group_id": id, "direction": "ingress", "ethertype": "IPv4",
                                             "protocol": rule.ipProtocol, "remote_ip_prefix": rule.source]
                if rule.ipProtocol != "icmp" {
                    fields["port_range_min"] = rule.portFrom
                    fields["port_range_max"] = rule.portTo
                }
                _ = try await call("POST", .network, "/v2.0/security-group-rules", ["security_group_rule": fields], expect: [201])
            }
        } catch {
            try? await deleteSecurityGroup(id: id)
            throw error
        }
        return id
    }

    public func deleteSecurityGroup(id: String) async throws {
        _ = try await call("DELETE", .network, "/v2.0/security-groups/\(Self.path(id))", nil, expect: [204], missingIsFine: true)
    }

    /// A group's inbound rules, or nil when the group is gone.
    public func securityGroupRules(id: String) async throws -> [FirewallRule]? {
        let answer = try await call("GET", .network, "/v2.0/security-groups/\(Self.path(id))", nil, expect: [200], missingIsFine: true)
        guard let group = answer["security_group"] as? [String: Any] else { return nil }
        return (group["security_group_rules"] as? [[String: Any]] ?? []).filter { $0["direction"] as? String == "ingress" }.map {
            FirewallRule(ipProtocol: $0["protocol"] as? String ?? "", portFrom: $0["port_range_min"] as? Int ?? 0,
                         portTo: $0["port_range_max"] as? Int ?? 0, source: $0["remote_ip_prefix"] as? String ?? "0.0.0.0/0")
        }
    }

    // MARK: Offerings

    public func images() async throws -> [ProviderOffering] {
        let answer = try await call("GET", .image, "/v2/images", nil, expect: [200])
        return (answer["images"] as? [[String: Any]] ?? []).compactMap { image in
            (image["id"] as? String).map { ProviderOffering(id: $0, name: image["name"] as? String ?? $0) }
        }
    }

    public func sizes() async throws -> [ProviderOffering] {
        let answer = try await call("GET", .compute, "/flavors", nil, expect: [200])
        return (answer["flavors"] as? [[String: Any]] ?? []).compactMap { flavor in
            (flavor["id"] as? String).map { ProviderOffering(id: $0, name: flavor["name"] as? String ?? $0) }
        }
    }

    // MARK: The REST calls

    enum Service: String {
        case compute, network, image
    }

    /// One call: the answer's JSON when its status is expected; `missingIsFine` turns 404 into an
    /// empty answer (deleting what is already gone); anything else is an error in OpenStack's words.
    func call(_ method: String, _ service: Service, _ path: String, _ body: [String: Any]?, expect: Set<Int>,
              missingIsFine: Bool = false) async throws -> [String: Any] {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let response = try await session.request(method, service: service.rawValue, path: path, body: data)
        if response.status == 404, missingIsFine { return [:] }
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        guard expect.contains(response.status) else {
            // Nova says {"badRequest": {"message": ...}}, Neutron {"NeutronError": {"message": ...}}.
            let detail = json.values.compactMap { ($0 as? [String: Any])?["message"] as? String }.first ?? response.text.prefix(200).description
            throw ProviderError("OpenStack \(service.rawValue) \(method) \(path.prefix(80)) answered HTTP \(response.status): \(detail)", code: "http_\(response.status)")
        }
        return json
    }

    static func query(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
    }

    static func path(_ value: String) -> String { query(value) }
}
