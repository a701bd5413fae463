import Foundation
import NumbatAPI
import NumbatCore
import NumbatProviders

/// What the server adds to each kind's configuration (NumbatAPI's `ProviderSettings`): how it
/// readies a new provider and builds the provider behind a stored one. Each kind says it once,
/// in its own extension below, instead of one switch over the kind per use.
protocol ProviderBuilding: ProviderSettings {
    /// Makes what the server supplies (a physical provider's key pair) and proves the
    /// configuration works where that is cheap (a Libcloud driver exists, Keystone takes the
    /// password), so a mistake is a 400 at creation rather than a failed deployment.
    /// `secret` is the request's and becomes what is sealed.
    mutating func prepare(id: UUID, secret: inout String?, service: OrchestrationService) async throws

    /// The provider, with its sealed secret.
    func provider(id: UUID, secret: String?, service: OrchestrationService) -> any InfrastructureProvider
}

extension ProviderConfiguration {
    var building: any ProviderBuilding {
        switch self {
        case .physical(let settings): settings
        case .ec2(let settings): settings
        case .openstack(let settings): settings
        case .libcloud(let settings): settings
        }
    }
}

extension PhysicalProviderSettings: ProviderBuilding {
    /// A given key is checked and its public half shown. Without one, Numbat logs in to the
    /// hosts with OpenSSH and the server user's own setup (`LoginMethod.openSSH`): nothing to make.
    mutating func prepare(id: UUID, secret: inout String?, service: OrchestrationService) async throws {
        guard let given = secret else {
            publicKey = nil
            return
        }
        let key: SSHKeyPair
        do { key = try SSHKeyPair(openSSHPrivateKey: given) } catch { throw NumbatError.badRequest("invalid_private_key", "'private_key': \(error)") }
        publicKey = key.authorizedKey
        secret = key.openSSHPrivateKey
    }

    func provider(id: UUID, secret: String?, service: OrchestrationService) -> any InfrastructureProvider {
        PhysicalProvider(hosts: hosts.map { PhysicalProvider.Host(address: $0.address, sshPort: $0.sshPort) })
    }
}

extension EC2ProviderSettings: ProviderBuilding {
    mutating func prepare(id: UUID, secret: inout String?, service: OrchestrationService) async throws {}

    func provider(id: UUID, secret: String?, service: OrchestrationService) -> any InfrastructureProvider {
        EC2Provider(configuration: .init(endpoint: endpoint.flatMap(URL.init(string:)), region: region,
                                         credentials: .init(accessKeyID: accessKeyID, secretAccessKey: secret ?? "")))
    }
}

extension OpenStackProviderSettings: ProviderBuilding {
    mutating func prepare(id: UUID, secret: inout String?, service: OrchestrationService) async throws {
        // Log in now, so a wrong password or URL is a 400 and not a failed deployment.
        do { _ = try await openStack(password: secret ?? "").sizes() } catch {
            throw NumbatError.badRequest((error as? ProviderError)?.code ?? "provider_failed", "OpenStack refused the provider: \(NodeDeployment.describe(error))")
        }
    }

    func provider(id: UUID, secret: String?, service: OrchestrationService) -> any InfrastructureProvider {
        openStack(password: secret ?? "")
    }

    private func openStack(password: String) -> OpenStackProvider {
        let credentials = KeystoneSession.Credentials(authURL: URL(string: authURL) ?? URL(string: "http://localhost:5000/v3")!, username: username,
                                                      password: password, projectName: projectName, domainName: domainName ?? "Default", region: region)
        return OpenStackProvider(configuration: .init(credentials: credentials, network: network, floatingIPNetwork: floatingIPPool, sshPort: sshPort ?? 22))
    }
}

extension LibcloudProviderSettings: ProviderBuilding {
    mutating func prepare(id: UUID, secret: inout String?, service: OrchestrationService) async throws {
        // Greet the driver now, so a wrong name or a missing Libcloud is a 400 and not a failed deployment.
        let bridge = LibcloudBridge(configuration: bridgeConfiguration(secret: secret))
        do {
            try await bridge.hello()
            await bridge.close()
        } catch {
            await bridge.close()
            throw NumbatError.badRequest((error as? ProviderError)?.code ?? "provider_failed", "the Libcloud bridge refused the driver: \(NodeDeployment.describe(error))")
        }
    }

    func provider(id: UUID, secret: String?, service: OrchestrationService) -> any InfrastructureProvider {
        let bridge = service.bridge(for: id) { LibcloudBridge(configuration: bridgeConfiguration(secret: secret)) }
        return LibcloudProvider(bridge: bridge, sshPort: sshPort ?? 22, addressType: addressType == .private ? .private : .public)
    }

    /// The driver with its key and secret as its first arguments, and its keyword arguments.
    func bridgeConfiguration(secret: String?) -> LibcloudBridge.Configuration {
        .init(driver: driver, arguments: [key, secret].compactMap { $0 }.map(LibcloudValue.string),
              options: (driverOptions ?? [:]).mapValues(LibcloudValue.init))
    }
}

extension LibcloudValue {
    /// The same JSON value, in the bridge's type.
    init(_ value: NumbatAPI.JSONValue) {
        switch value {
        case .string(let text): self = .string(text)
        case .int(let number): self = .int(number)
        case .double(let number): self = .double(number)
        case .bool(let flag): self = .bool(flag)
        case .array(let items): self = .array(items.map(LibcloudValue.init))
        case .object(let fields): self = .object(fields.mapValues(LibcloudValue.init))
        case .null: self = .null
        }
    }
}
