import Foundation
import NumbatTestSupport
import Testing
@testable import NumbatProviders

/// The EC2 client against moto_server, a real and independent implementation of the Query API
/// (it does not check signatures, but routes by the credential scope, which must name ec2).
@Suite("EC2 against moto_server", .requires(.moto))
struct EC2Tests {
    static func provider(_ moto: MotoServer) -> EC2Provider {
        EC2Provider(configuration: .init(endpoint: moto.endpoint, region: "us-east-1",
                                         credentials: .init(accessKeyID: "AKIDNUMBAT", secretAccessKey: "numbat-secret"),
                                         launchTimeout: .seconds(30), pollInterval: .milliseconds(100)))
    }

    @Test("key pair, security group with the family's rules, an instance: created as asked, all gone after cleanup")
    func lifecycle() async throws {
        try await MotoServer.with { moto in
            let ec2 = Self.provider(moto)
            let key = SSHKeyPair.generate()
            try await ec2.importKeyPair(name: "numbat-family-1", publicKey: key.publicKey)
            try await ec2.importKeyPair(name: "numbat-family-1", publicKey: key.publicKey) // a retry replaces it
            #expect(try await ec2.keyPairNames().contains("numbat-family-1"))

            let rules = [FirewallRule(ipProtocol: "tcp", portFrom: 4369, portTo: 4369), FirewallRule(ipProtocol: "tcp", portFrom: 6000, portTo: 7999)]
            let group = try await ec2.createSecurityGroup(name: "numbat-family-1", description: "Numbat family 1", rules: rules)
            #expect(Set(try await ec2.securityGroupRules(id: group) ?? []) == Set(rules))

            let image = try #require(try await ec2.images().first).id
            #expect(try await ec2.sizes().contains { $0.id == "t2.micro" })
            let request = InstanceRequest(name: "numbat-node-1", image: image, size: "t2.micro", keyName: "numbat-family-1", securityGroup: group)
            let instance = try await ec2.createInstance(request)
            #expect(instance.state == "running" && instance.address != nil)
            let retried = try await ec2.createInstance(request)
            #expect(retried.id == instance.id, "a retried launch returns the same instance")
            #expect(try await ec2.instances(namePrefix: "numbat-node-").map(\.id) == [instance.id])

            try await ec2.destroyInstance(id: instance.id)
            try await ec2.destroyInstance(id: instance.id)
            #expect(try await ec2.instance(id: instance.id)?.state == "terminated")
            try await ec2.deleteSecurityGroup(id: group)
            try await ec2.deleteSecurityGroup(id: group)
            #expect(try await ec2.securityGroupRules(id: group) == nil)
            try await ec2.deleteKeyPair(name: "numbat-family-1")
            #expect(try await !ec2.keyPairNames().contains("numbat-family-1"))
        }
    }

    @Test("refusals carry EC2's code and message; an endpoint nobody answers on is a clear error")
    func refusals() async throws {
        try await MotoServer.with { moto in
            let ec2 = Self.provider(moto)
            let image = try #require(try await ec2.images().first).id
            do {
                _ = try await ec2.createInstance(InstanceRequest(name: "numbat-bad", image: image, size: "t2.micro", securityGroup: "sg-nonexistent"))
                Issue.record("a launch into an unknown security group succeeded")
            } catch let error as ProviderError {
                #expect(error.code == "InvalidGroup.NotFound" && error.message.contains("sg-nonexistent"), "\(error)")
            }
            #expect(try await ec2.instances(namePrefix: "numbat-bad").isEmpty)
            _ = try await ec2.createSecurityGroup(name: "numbat-twice", description: "x", rules: [])
            await #expect(throws: ProviderError.self) { try await ec2.createSecurityGroup(name: "numbat-twice", description: "x", rules: []) }
        }
        let nowhere = EC2Provider(configuration: .init(endpoint: URL(string: "http://127.0.0.1:9/")!, region: "us-east-1",
                                                       credentials: .init(accessKeyID: "a", secretAccessKey: "b")))
        do {
            _ = try await nowhere.images()
            Issue.record("an unreachable endpoint answered")
        } catch let error as ProviderError {
            #expect(error.code == "unreachable", "\(error)")
        }
    }
}
