import Foundation
import Hummingbird
import NumbatCore
import NumbatProviders

/// `/api/orch/...`: providers, releases, family release/firewall/domains, deployment and node
/// actions (seed listings 5, 8, 9, 10). Changes need an admin token.
extension OrchestrationService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("orch/providers") { request, context -> EditedResponse<ProviderView> in
            try context.requireAdmin()
            let (object, _) = try await request.jsonObject(context: context)
            return EditedResponse(status: .created, response: try await self.createProvider(object))
        }
        api.get("orch/providers") { _, _ -> ListView<ProviderView> in
            ListView(items: try await self.records.all(ProviderRecord.self).map(ProviderView.init))
        }
        api.get("orch/providers/:id") { _, context -> ProviderView in
            ProviderView(try await self.requireProvider(context.parameters.require("id", as: UUID.self)))
        }
        api.get("orch/providers/:id/images") { _, context -> ListView<ProviderOffering> in
            let record = try await self.requireProvider(context.parameters.require("id", as: UUID.self))
            return ListView(items: try await self.offering { try await self.provider(record).images() })
        }
        api.get("orch/providers/:id/sizes") { _, context -> ListView<ProviderOffering> in
            let record = try await self.requireProvider(context.parameters.require("id", as: UUID.self))
            return ListView(items: try await self.offering { try await self.provider(record).sizes() })
        }
        api.delete("orch/providers/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            let record = try await self.requireProvider(context.parameters.require("id", as: UUID.self))
            if try await self.records.all(DomainRecord.self).contains(where: { $0.providerID == record.id }) {
                throw NumbatError.conflict("provider_in_use", "\(record.name) is used by a family's domain; delete the domain first")
            }
            try await self.records.delete(ProviderRecord.self, id: record.id)
            await self.closeBridge(of: record.id)
            return .noContent
        }

        api.post("orch/releases") { request, context -> EditedResponse<ReleaseView> in
            EditedResponse(status: .created, response: try await self.uploadRelease(request, context: context))
        }
        api.get("orch/releases") { _, _ -> ListView<ReleaseView> in
            ListView(items: try await self.records.all(ReleaseRecord.self).map(ReleaseView.init))
        }
        api.get("orch/releases/:id") { _, context -> ReleaseView in
            ReleaseView(try await self.requireRelease(context.parameters.require("id", as: UUID.self)))
        }
        api.delete("orch/releases/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            let release = try await self.requireRelease(context.parameters.require("id", as: UUID.self))
            if try await self.records.all(FamilyPlan.self).contains(where: { $0.releaseID == release.id }) {
                throw NumbatError.conflict("release_in_use", "\(release.name) is a family's release")
            }
            try await self.records.delete(ReleaseRecord.self, id: release.id)
            try? FileManager.default.removeItem(at: self.releaseDirectory.appendingPathComponent("\(release.id.uuidString.lowercased()).tar.gz"))
            return .noContent
        }

        api.get("orch/node_families/:id") { _, context -> FamilyPlanView in
            try await self.familyView(context.parameters.require("id", as: UUID.self))
        }
        api.post("orch/node_families/:id/release") { request, context -> FamilyPlanView in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            _ = try await self.deploymentFamily(id)
            let (object, _) = try await request.jsonObject(context: context)
            guard let text = object["release"] as? String, let releaseID = UUID(uuidString: text) else {
                throw NumbatError.badRequest("invalid_field", "'release' must be a release id")
            }
            _ = try await self.requireRelease(releaseID)
            var plan = try await self.plan(for: id)
            plan.releaseID = releaseID
            try await self.records.save(plan)
            return try await self.familyView(id)
        }
        api.post("orch/node_families/:id/firewall") { request, context -> FamilyPlanView in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            _ = try await self.deploymentFamily(id)
            var plan = try await self.plan(for: id)
            plan.firewall = try Self.firewallRules(try await request.body.collect(upTo: context.maxUploadSize))
            if try await !self.records.all(DomainRecord.self, parent: id).isEmpty {
                throw NumbatError.conflict("family_has_domains", "set the firewall rules before adding domains: the clouds' security groups are made from them")
            }
            try await self.records.save(plan)
            return try await self.familyView(id)
        }
        api.post("orch/node_families/:id/domains") { request, context -> EditedResponse<DomainRecord> in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            let (object, _) = try await request.jsonObject(context: context)
            return EditedResponse(status: .created, response: try await self.addDomain(familyID: id, object))
        }
        api.delete("orch/node_families/:id/domains/:domain") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            try await self.deleteDomain(familyID: context.parameters.require("id", as: UUID.self), domainID: context.parameters.require("domain", as: UUID.self))
            return .noContent
        }
        api.delete("orch/node_families/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            try await self.deleteFamily(context.parameters.require("id", as: UUID.self))
            return .noContent
        }
        api.post("orch/node_families/:id/nodes") { request, context -> EditedResponse<DeployView> in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            let (object, _) = try await request.jsonObject(context: context)
            guard let amount = object["amount"] as? Int else { throw NumbatError.badRequest("invalid_field", "'amount' must be a number of nodes") }
            guard let text = object["provider"] as? String, let provider = UUID(uuidString: text) else {
                throw NumbatError.badRequest("invalid_field", "'provider' must be a provider id")
            }
            let autostart = object["autostart"] as? Bool ?? true
            let nodes = try await self.deploy(familyID: id, providerID: provider, amount: amount, autostart: autostart)
            return EditedResponse(status: .accepted, response: DeployView(nodes: nodes))
        }
        api.get("orch/node_families/:id/nodes") { _, context -> ListView<DeployedNodeView> in
            let id = try context.parameters.require("id", as: UUID.self)
            var views: [DeployedNodeView] = []
            for record in try await self.records.all(DeploymentRecord.self, parent: id) {
                views.append(DeployedNodeView(record, node: try await self.store.node(id: record.id)))
            }
            return ListView(items: views)
        }
        api.get("orch/nodes/:id") { _, context -> DeployedNodeView in
            let id = try context.parameters.require("id", as: UUID.self)
            guard let record = try await self.records.load(DeploymentRecord.self, id: id) else {
                throw NumbatError.notFound("deployment_not_found", "node \(id.uuidString.lowercased()) was not deployed by Numbat")
            }
            return DeployedNodeView(record, node: try await self.store.node(id: id))
        }
        for action in ["start", "stop", "restart"] {
            api.post("orch/nodes/:id/\(action)") { _, context -> DeployedNodeView in
                try context.requireAdmin()
                let id = try context.parameters.require("id", as: UUID.self)
                if action != "start" { try await self.stopNode(id) }
                if action != "stop" { try await self.startNode(id) }
                guard let record = try await self.records.load(DeploymentRecord.self, id: id) else {
                    throw NumbatError.notFound("deployment_not_found", "node \(id.uuidString.lowercased()) was deleted meanwhile")
                }
                return DeployedNodeView(record, node: try await self.store.node(id: id))
            }
        }
        api.delete("orch/nodes/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            try await self.deleteNode(context.parameters.require("id", as: UUID.self))
            return .noContent
        }
    }

    // MARK: Providers

    func createProvider(_ object: [String: Any]) async throws -> ProviderView {
        // The seed's shape, {"type": "virtual", "vprovider": "ec2"}, or {"type": "ec2"}.
        var type = object["type"] as? String ?? ""
        if type == "virtual" { type = object["vprovider"] as? String ?? "" }
        guard let kind = ProviderKind(rawValue: type) else {
            throw NumbatError.badRequest("unknown_provider_type", "type must be physical, ec2, openstack or libcloud, not '\(type)'")
        }
        guard let name = object["name"] as? String, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw NumbatError.badRequest("invalid_field", "a provider needs a name")
        }
        func text(_ key: String) -> String? { (object[key] as? String).flatMap { $0.isEmpty ? nil : $0 } }
        var record = ProviderRecord(id: UUID(), name: name, kind: kind, createdAt: Date())
        var secrets: [String: String] = [:]
        switch kind {
        case .physical:
            let hosts = (object["hosts"] ?? object["servers"]) as? [Any] ?? []
            record.hosts = try hosts.map(Self.host)
            guard !(record.hosts ?? []).isEmpty else { throw NumbatError.badRequest("invalid_field", "a physical provider needs 'hosts': addresses reachable by SSH") }
            record.directory = text("directory")
            let key: SSHKeyPair
            if let given = text("private_key") {
                do { key = try SSHKeyPair(openSSHPrivateKey: given) } catch { throw NumbatError.badRequest("invalid_private_key", "\(error)") }
            } else {
                key = SSHKeyPair.generate(comment: "numbat-provider-\(record.id.uuidString.lowercased())")
            }
            record.publicKey = key.authorizedKey
            secrets["private_key"] = key.openSSHPrivateKey
        case .ec2:
            guard let access = text("access_key_id"), let secret = text("secret_access_key") else {
                throw NumbatError.badRequest("invalid_field", "an EC2 provider needs access_key_id and secret_access_key")
            }
            record.accessKeyID = access
            let region = text("region") ?? "us-east-1"
            // The region names the endpoint's host: letters, digits and dashes only.
            guard region.count <= 64, region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw NumbatError.badRequest("invalid_field", "region must be letters, digits and dashes (eu-west-1), not '\(region.prefix(64))'")
            }
            record.region = region
            if let endpoint = text("endpoint") {
                guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https" else {
                    throw NumbatError.badRequest("invalid_field", "endpoint must be an http(s) URL")
                }
                record.endpoint = url.absoluteString
            }
            secrets["secret_access_key"] = secret
        case .libcloud:
            guard let driver = text("driver") else {
                throw NumbatError.badRequest("invalid_field", "a Libcloud provider needs 'driver': a Libcloud compute driver name (dummy, ec2, openstack, gce, ...)")
            }
            record.driver = driver
            record.driverKey = text("key")
            if let options = object["driver_options"] {
                guard let parsed = LibcloudValue(json: options), case .object(let fields) = parsed else {
                    throw NumbatError.badRequest("invalid_field", "'driver_options' must be a JSON object of the driver's keyword arguments")
                }
                record.driverOptions = fields
            }
            try Self.cloudOptions(object, into: &record)
            if let secret = text("secret") { secrets["secret"] = secret }
            // Greet the driver now, so a wrong name or a missing Libcloud is a 400 and not a failed deployment.
            let bridge = LibcloudBridge(configuration: .init(driver: driver, arguments: [record.driverKey, secrets["secret"]].compactMap { $0 }.map(LibcloudValue.string),
                                                             options: record.driverOptions ?? [:]))
            do {
                try await bridge.hello()
                await bridge.close()
            } catch {
                await bridge.close()
                throw NumbatError.badRequest((error as? ProviderError)?.code ?? "provider_failed", "the Libcloud bridge refused the driver: \(NodeDeployment.describe(error))")
            }
        case .openstack:
            guard let auth = text("auth_url"), let url = URL(string: auth), url.scheme == "http" || url.scheme == "https" else {
                throw NumbatError.badRequest("invalid_field", "an OpenStack provider needs 'auth_url': Keystone's http(s) URL")
            }
            guard let user = text("username"), let password = text("password"), let project = text("project_name") else {
                throw NumbatError.badRequest("invalid_field", "an OpenStack provider needs username, password and project_name")
            }
            record.authURL = url.absoluteString
            record.username = user
            record.projectName = project
            record.domainName = text("domain_name")
            record.region = text("region")
            record.network = text("network")
            record.floatingIPPool = text("floating_ip_pool")
            try Self.cloudOptions(object, into: &record)
            secrets["password"] = password
            // Log in now, so a wrong password or URL is a 400 and not a failed deployment.
            do { _ = try await Self.openStack(record, password: password).sizes() } catch {
                throw NumbatError.badRequest((error as? ProviderError)?.code ?? "provider_failed", "OpenStack refused the provider: \(NodeDeployment.describe(error))")
            }
        }
        try await records.save(record)
        try await records.setSecrets(of: ProviderRecord.self, id: record.id, secrets)
        return ProviderView(record)
    }

    /// What every cloud provider takes: the images' SSH port and which address to reach nodes on.
    static func cloudOptions(_ object: [String: Any], into record: inout ProviderRecord) throws {
        if let port = object["ssh_port"] {
            guard let port = port as? Int, (1...65535).contains(port) else { throw NumbatError.badRequest("invalid_field", "'ssh_port' must be a port number") }
            record.sshPort = port
        }
        if let type = object["address_type"] {
            guard let type = (type as? String).flatMap(LibcloudProvider.AddressType.init(rawValue:)) else {
                throw NumbatError.badRequest("invalid_field", "'address_type' must be public or private")
            }
            record.addressType = type
        }
    }

    static func host(_ value: Any) throws -> PhysicalProvider.Host {
        if let text = value as? String {
            let parts = text.split(separator: ":")
            guard let address = parts.first, !address.isEmpty, parts.count <= 2, let port = parts.count == 2 ? Int(parts[1]) : 22, (1...65535).contains(port) else {
                throw NumbatError.badRequest("invalid_field", "'\(text)' is not a host (address or address:port)")
            }
            return .init(address: String(address), sshPort: port)
        }
        if let object = value as? [String: Any], let address = object["address"] as? String, !address.isEmpty {
            return .init(address: address, sshPort: object["ssh_port"] as? Int ?? 22)
        }
        throw NumbatError.badRequest("invalid_field", "hosts must be addresses (\"10.0.0.2\", \"10.0.0.2:2222\") or {\"address\": ..., \"ssh_port\": ...}")
    }

    func requireProvider(_ id: UUID) async throws -> ProviderRecord {
        guard let record = try await records.load(ProviderRecord.self, id: id) else {
            throw NumbatError.notFound("provider_not_found", "no provider has id \(id.uuidString.lowercased())")
        }
        return record
    }

    func requireRelease(_ id: UUID) async throws -> ReleaseRecord {
        guard let record = try await records.load(ReleaseRecord.self, id: id) else {
            throw NumbatError.notFound("release_not_found", "no release has id \(id.uuidString.lowercased())")
        }
        return record
    }

    private func offering(_ body: () async throws -> [ProviderOffering]) async throws -> [ProviderOffering] {
        do { return try await body() } catch let error as ProviderError {
            throw NumbatError(.unavailable, "provider_failed", error.description)
        }
    }

    // MARK: Families and domains

    /// Firewall rules as the seed sends them: port numbers as strings or numbers.
    static func firewallRules(_ body: ByteBuffer) throws -> [FirewallRule] {
        guard let list = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [[String: Any]] else {
            throw NumbatError.badRequest("invalid_json", "the firewall is a JSON list of {\"protocol\", \"port_from\", \"port_to\"}")
        }
        return try list.map { rule in
            func port(_ key: String) -> Int? { (rule[key] as? Int) ?? (rule[key] as? String).flatMap { Int($0) } }
            guard let proto = rule["protocol"] as? String, ["tcp", "udp", "icmp"].contains(proto),
                  let from = port("port_from"), let to = port("port_to"), (0...65535).contains(from), (from...65535).contains(to) else {
                throw NumbatError.badRequest("invalid_rule", "each rule needs protocol tcp, udp or icmp and ports 0-65535 with port_from <= port_to")
            }
            return FirewallRule(ipProtocol: proto, portFrom: from, portTo: to, source: rule["source"] as? String ?? "0.0.0.0/0")
        }
    }

    func addDomain(familyID: UUID, _ object: [String: Any]) async throws -> DomainRecord {
        let family = try await deploymentFamily(familyID)
        guard let text = object["provider"] as? String, let providerID = UUID(uuidString: text) else {
            throw NumbatError.badRequest("invalid_field", "'provider' must be a provider id")
        }
        let provider = try await requireProvider(providerID)
        guard let user = object["ssh_user"] as? String, !user.isEmpty else { throw NumbatError.badRequest("invalid_field", "'ssh_user' is required") }
        if try await records.all(DomainRecord.self, parent: familyID).contains(where: { $0.providerID == providerID }) {
            throw NumbatError.conflict("domain_exists", "\(family.name) already has a domain on \(provider.name)")
        }
        let plan = try await plan(for: familyID)
        var domain = DomainRecord(id: UUID(), familyID: familyID, providerID: providerID, sshUser: user,
                                  vdisk: object["vdisk"] as? String ?? "", hwProfile: object["hw_profile"] as? String ?? "", createdAt: Date())
        if provider.kind != .physical {
            // The family's key pair and security group, named after the family (seed 4.1.3).
            let cloud = try await self.provider(provider)
            let name = "numbat-\(familyID.uuidString.lowercased())"
            var warnings: [String] = []
            do {
                do {
                    try await cloud.importKeyPair(name: name, publicKey: plan.publicKey.split(separator: " ").prefix(2).joined(separator: " "))
                    domain.keyName = name
                } catch let error as ProviderError where error.code == "not_supported" {
                    warnings.append("key pair not imported (\(error.message)): the image must let \(user) in with the family's key")
                }
                do {
                    domain.securityGroupID = try await cloud.createSecurityGroup(name: name, description: "Numbat family \(family.name)", rules: plan.firewall)
                } catch let error as ProviderError where error.code == "not_supported" {
                    warnings.append("firewall not applied (\(error.message))")
                }
                domain.warnings = warnings.isEmpty ? nil : warnings
            } catch {
                if domain.keyName != nil { try? await cloud.deleteKeyPair(name: name) }
                throw NumbatError(.unavailable, "provider_failed", "\(provider.name): \(NodeDeployment.describe(error))")
            }
        }
        try await records.save(domain)
        return domain
    }

    func deleteDomain(familyID: UUID, domainID: UUID) async throws {
        guard let domain = try await records.load(DomainRecord.self, id: domainID), domain.familyID == familyID else {
            throw NumbatError.notFound("domain_not_found", "the family has no domain \(domainID.uuidString.lowercased())")
        }
        if try await records.all(DeploymentRecord.self, parent: familyID).contains(where: { $0.domainID == domainID }) {
            throw NumbatError.conflict("domain_has_nodes", "the domain still has nodes; delete them first")
        }
        if let provider = try await records.load(ProviderRecord.self, id: domain.providerID), provider.kind != .physical {
            let cloud = try await self.provider(provider)
            do {
                if let group = domain.securityGroupID { try await cloud.deleteSecurityGroup(id: group) }
                if let key = domain.keyName { try await cloud.deleteKeyPair(name: key) }
            } catch {
                throw NumbatError(.unavailable, "provider_failed", "\(provider.name) did not remove the family's key or security group: \(NodeDeployment.describe(error))")
            }
        }
        try await records.delete(DomainRecord.self, id: domainID)
    }

    /// Deletes a family with no nodes: its domains (and what they made on clouds), its plan,
    /// and the family itself.
    func deleteFamily(_ id: UUID) async throws {
        let family = try await deploymentFamily(id)
        try await removeDeploymentPlan(of: family)
        _ = try await store.deleteFamily(id: id)
        context.bus.publish(.familyRemoved(id: id, name: family.name))
    }

    /// Before any route deletes a deployment family: its domains (and what they made on the
    /// providers) and its plan go first; a family with nodes stays, whole.
    func removeDeploymentPlan(of family: NodeFamily) async throws {
        let members = try await store.nodes().filter { $0.familyID == family.id }
        guard members.isEmpty else {
            throw NumbatError.conflict("family_not_empty", "\(family.name) still has \(members.count) node(s); delete them first")
        }
        for domain in try await records.all(DomainRecord.self, parent: family.id) {
            try await deleteDomain(familyID: family.id, domainID: domain.id)
        }
        try await records.delete(FamilyPlan.self, id: family.id)
    }

    func familyView(_ id: UUID) async throws -> FamilyPlanView {
        let family = try await deploymentFamily(id)
        let plan = try await plan(for: id)
        return FamilyPlanView(id: id, name: family.name, release: plan.releaseID, firewall: plan.firewall, publicKey: plan.publicKey,
                              domains: try await records.all(DomainRecord.self, parent: id),
                              nodes: try await records.all(DeploymentRecord.self, parent: id).map(\.id))
    }

    // MARK: Views

    struct ListView<Item: Encodable & Sendable>: ResponseEncodable {
        var items: [Item]
    }

    /// A provider as the API shows it: secrets masked.
    struct ProviderView: ResponseEncodable {
        var record: ProviderRecord

        init(_ record: ProviderRecord) { self.record = record }

        func encode(to encoder: Encoder) throws {
            try record.encode(to: encoder)
            var container = encoder.container(keyedBy: SecretKey.self)
            try container.encode(record.id, forKey: .uuid)
            switch record.kind {
            case .physical: try container.encode("********", forKey: .privateKey)
            case .ec2: try container.encode("********", forKey: .secretAccessKey)
            case .openstack: try container.encode("********", forKey: .password)
            case .libcloud: try container.encode("********", forKey: .secret)
            }
        }

        enum SecretKey: String, CodingKey {
            case uuid
            case privateKey = "private_key"
            case secretAccessKey = "secret_access_key"
            case password, secret
        }
    }

    struct FamilyPlanView: ResponseEncodable {
        var id: UUID
        var name: String
        var release: UUID?
        var firewall: [FirewallRule]
        var publicKey: String
        var domains: [DomainRecord]
        var nodes: [UUID]

        enum CodingKeys: String, CodingKey {
            case id, name, release, firewall, domains, nodes
            case publicKey = "public_key"
        }
    }

    struct DeployView: ResponseEncodable {
        var nodes: [UUID]
    }

    struct DeployedNodeView: ResponseEncodable {
        var deployment: DeploymentRecord
        var node: ManagedNode?

        init(_ deployment: DeploymentRecord, node: ManagedNode?) {
            self.deployment = deployment
            self.node = node
        }

        func encode(to encoder: Encoder) throws {
            var copy = deployment
            copy.hostKey = nil
            try copy.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encodeIfPresent(node?.name, forKey: .name)
            try container.encode(node?.state ?? .error, forKey: .status)
            try container.encodeIfPresent(node?.lastError, forKey: .lastError)
        }

        enum Keys: String, CodingKey {
            case name, status
            case lastError = "last_error"
        }
    }
}
