import Foundation

/// Amazon EC2 through its Query API (version 2016-11-15), signed with SigV4: Numbat's own client,
/// so it runs wherever Numbat does. Tested against moto_server, which implements the same API.
public struct EC2Provider: InfrastructureProvider {
    public struct Configuration: Sendable {
        /// `https://ec2.<region>.amazonaws.com` for AWS itself.
        public var endpoint: URL
        public var region: String
        public var credentials: SigV4.Credentials
        /// How long a new instance may take to run with an address before it is terminated.
        public var launchTimeout: Duration
        public var pollInterval: Duration

        public init(endpoint: URL? = nil, region: String, credentials: SigV4.Credentials,
                    launchTimeout: Duration = .seconds(300), pollInterval: Duration = .seconds(2)) {
            self.endpoint = endpoint ?? URL(string: "https://ec2.\(region).amazonaws.com/")!
            self.region = region
            self.credentials = credentials
            self.launchTimeout = launchTimeout
            self.pollInterval = pollInterval
        }
    }

    public static let apiVersion = "2016-11-15"
    public let configuration: Configuration
    private let http: ProviderHTTP
    public var kind: ProviderKind { .ec2 }

    public init(configuration: Configuration, http: ProviderHTTP = ProviderHTTP()) {
        self.configuration = configuration
        self.http = http
    }

    // MARK: Instances

    public func createInstance(_ request: InstanceRequest) async throws -> ProvisionedInstance {
        // A launch retried after a lost answer finds the first instance by its Name tag (the
        // client token does the same on AWS; not every implementation honours it).
        if let existing = try await instances(named: request.name).first(where: { ["pending", "running"].contains($0.state) }) {
            return try await waitUntilRunning(id: existing.id)
        }
        var parameters = [
            ("ImageId", request.image), ("InstanceType", request.size), ("MinCount", "1"), ("MaxCount", "1"),
            // The same token returns the same instance: a retried deployment never starts a second one.
            ("ClientToken", request.name),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "Name"), ("TagSpecification.1.Tag.1.Value", request.name),
        ]
        if let key = request.keyName { parameters.append(("KeyName", key)) }
        if let group = request.securityGroup, !group.isEmpty { parameters.append(("SecurityGroupId.1", group)) }
        let answer = try await call("RunInstances", parameters)
        guard let item = answer["instancesSet"]?["item"], let id = item.value("instanceId") else {
            throw ProviderError("RunInstances answered without an instance id")
        }
        do {
            return try await waitUntilRunning(id: id)
        } catch {
            // Never leave a machine behind that nobody will manage.
            try? await destroyInstance(id: id)
            throw error
        }
    }

    private func waitUntilRunning(id: String) async throws -> ProvisionedInstance {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.launchTimeout
        while true {
            if let instance = try await instance(id: id) {
                if instance.state == "running", instance.address != nil { return instance }
                if ["terminated", "shutting-down", "stopped", "stopping"].contains(instance.state) {
                    throw ProviderError("instance \(id) went \(instance.state) while starting")
                }
            }
            guard clock.now < deadline else {
                throw ProviderError("instance \(id) was not running with an address within \(configuration.launchTimeout)")
            }
            try await Task.sleep(for: configuration.pollInterval)
        }
    }

    public func destroyInstance(id: String) async throws {
        do {
            _ = try await call("TerminateInstances", [("InstanceId.1", id)])
        } catch let error as ProviderError where error.code == "InvalidInstanceID.NotFound" {}
    }

    public func instance(id: String) async throws -> ProvisionedInstance? {
        let answer: XMLNode
        do {
            answer = try await call("DescribeInstances", [("InstanceId.1", id)])
        } catch let error as ProviderError where error.code == "InvalidInstanceID.NotFound" {
            return nil
        }
        let items = answer["reservationSet"]?.all("item").compactMap { $0["instancesSet"]?["item"] } ?? []
        guard let item = items.first(where: { $0.value("instanceId") == id }) else { return nil }
        let state = item.value("instanceState", "name") ?? "unknown"
        let address = [item.value("ipAddress"), item.value("privateIpAddress")].compactMap { $0 }.first { !$0.isEmpty }
        return ProvisionedInstance(id: id, address: address, state: state)
    }

    /// The instances this provider runs whose Name tag starts with `prefix` (to find orphans).
    public func instances(namePrefix prefix: String) async throws -> [ProvisionedInstance] {
        try await instances(named: prefix + "*")
    }

    /// The instances whose Name tag matches `pattern` (EC2 filters take `*` wildcards).
    private func instances(named pattern: String) async throws -> [ProvisionedInstance] {
        let answer = try await call("DescribeInstances", [("Filter.1.Name", "tag:Name"), ("Filter.1.Value.1", pattern)])
        return (answer["reservationSet"]?.all("item") ?? []).flatMap { $0["instancesSet"]?.all("item") ?? [] }.compactMap { item in
            guard let id = item.value("instanceId") else { return nil }
            let address = [item.value("ipAddress"), item.value("privateIpAddress")].compactMap { $0 }.first { !$0.isEmpty }
            return ProvisionedInstance(id: id, address: address, state: item.value("instanceState", "name") ?? "unknown")
        }
    }

    // MARK: Key pairs and security groups

    public func importKeyPair(name: String, publicKey: String) async throws {
        do {
            _ = try await call("ImportKeyPair", [("KeyName", name), ("PublicKeyMaterial", Data(publicKey.utf8).base64EncodedString())])
        } catch let error as ProviderError where error.code == "InvalidKeyPair.Duplicate" {
            // Imported by an earlier attempt; replace it so the key is surely the family's.
            try await deleteKeyPair(name: name)
            _ = try await call("ImportKeyPair", [("KeyName", name), ("PublicKeyMaterial", Data(publicKey.utf8).base64EncodedString())])
        }
    }

    public func deleteKeyPair(name: String) async throws {
        do {
            _ = try await call("DeleteKeyPair", [("KeyName", name)])
        } catch let error as ProviderError where error.code == "InvalidKeyPair.NotFound" {}
    }

    public func keyPairNames() async throws -> [String] {
        let answer = try await call("DescribeKeyPairs", [])
        return answer["keySet"]?.all("item").compactMap { $0.value("keyName") } ?? []
    }

    public func createSecurityGroup(name: String, description: String, rules: [FirewallRule]) async throws -> String {
        let answer = try await call("CreateSecurityGroup", [("GroupName", name), ("GroupDescription", description)])
        guard let id = answer.value("groupId") else { throw ProviderError("CreateSecurityGroup answered without a group id") }
        guard !rules.isEmpty else { return id }
        var parameters = [("GroupId", id)]
        for (index, rule) in rules.enumerated() {
            let prefix = "IpPermissions.\(index + 1)."
            parameters += [
                (prefix + "IpProtocol", rule.ipProtocol), (prefix + "FromPort", String(rule.portFrom)),
                (prefix + "ToPort", String(rule.portTo)), (prefix + "IpRanges.1.CidrIp", rule.source),
            ]
        }
        do {
            _ = try await call("AuthorizeSecurityGroupIngress", parameters)
        } catch {
            try? await deleteSecurityGroup(id: id)
            throw error
        }
        return id
    }

    public func deleteSecurityGroup(id: String) async throws {
        do {
            _ = try await call("DeleteSecurityGroup", [("GroupId", id)])
        } catch let error as ProviderError where error.code == "InvalidGroup.NotFound" {}
    }

    /// The inbound rules of a group, as EC2 reports them.
    public func securityGroupRules(id: String) async throws -> [FirewallRule]? {
        let answer: XMLNode
        do {
            answer = try await call("DescribeSecurityGroups", [("GroupId.1", id)])
        } catch let error as ProviderError where error.code == "InvalidGroup.NotFound" {
            return nil
        }
        guard let group = answer["securityGroupInfo"]?.all("item").first(where: { $0.value("groupId") == id }) else { return nil }
        return (group["ipPermissions"]?.all("item") ?? []).flatMap { permission -> [FirewallRule] in
            let ranges = permission["ipRanges"]?.all("item").compactMap { $0.value("cidrIp") } ?? []
            return ranges.map {
                FirewallRule(ipProtocol: permission.value("ipProtocol") ?? "", portFrom: Int(permission.value("fromPort") ?? "") ?? 0,
                             portTo: Int(permission.value("toPort") ?? "") ?? 0, source: $0)
            }
        }
    }

    // MARK: Offerings

    public func images() async throws -> [ProviderOffering] {
        let answer = try await call("DescribeImages", [("Owner.1", "self"), ("Owner.2", "amazon")])
        return answer["imagesSet"]?.all("item").compactMap { item in
            item.value("imageId").map { ProviderOffering(id: $0, name: item.value("name") ?? $0) }
        } ?? []
    }

    public func sizes() async throws -> [ProviderOffering] {
        let answer = try await call("DescribeInstanceTypes", [])
        return answer["instanceTypeSet"]?.all("item").compactMap { item in
            item.value("instanceType").map { ProviderOffering(id: $0, name: $0) }
        } ?? []
    }

    // MARK: The Query API

    func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLNode {
        let form = ([("Action", action), ("Version", Self.apiVersion)] + parameters)
            .map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }
            .joined(separator: "&")
        let body = Array(form.utf8)
        let endpoint = configuration.endpoint
        var host = endpoint.host ?? ""
        if let port = endpoint.port { host += ":\(port)" }
        let signer = SigV4(credentials: configuration.credentials, region: configuration.region, service: "ec2")
        let headers = signer.sign(.init(method: "POST", path: endpoint.path.isEmpty ? "/" : endpoint.path,
                                        headers: [("Host", host), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                                        body: body), at: Date())
        let response = try await http.send("POST", endpoint, headers: headers, body: Data(body))
        let tree: XMLNode
        do {
            tree = try XMLNode.parse(response.text)
        } catch {
            throw ProviderError("EC2 \(action) answered HTTP \(response.status) with no readable XML: \(response.text.prefix(200))")
        }
        if let error = tree["Errors"]?["Error"] ?? (tree.name == "Error" ? tree : nil) {
            throw ProviderError(error.value("Message") ?? "EC2 \(action) failed", code: error.value("Code"))
        }
        guard (200..<300).contains(response.status) else {
            throw ProviderError("EC2 \(action) answered HTTP \(response.status)")
        }
        return tree
    }
}
