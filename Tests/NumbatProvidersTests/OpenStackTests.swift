import Foundation
import NumbatTestSupport
import Testing
@testable import NumbatProviders

/// The OpenStack client against FakeOpenStack (Tests/Fakes/fake_openstack.py): a hand-written
/// fake of Keystone v3, Nova, Neutron and Glance, because no real OpenStack runs here.
@Suite("OpenStack against FakeOpenStack (a fake, not OpenStack)")
struct OpenStackTests {
    static func provider(_ fake: FakeOpenStack, password: String = FakeOpenStack.password, floating: String? = "public") -> OpenStackProvider {
        OpenStackProvider(configuration: .init(
            credentials: .init(authURL: fake.authURL, username: FakeOpenStack.username, password: password, projectName: FakeOpenStack.projectName, region: "RegionOne"),
            network: "private", floatingIPNetwork: floating, launchTimeout: .seconds(20), pollInterval: .milliseconds(50)))
    }

    @Test("key pair, security group with the family's rules, a server with a floating IP: made as asked; all gone after cleanup, floating IP released")
    func lifecycle() async throws {
        try await FakeOpenStack.with { fake in
            let cloud = Self.provider(fake)
            let key = SSHKeyPair.generate()
            try await cloud.importKeyPair(name: "numbat-family-1", publicKey: key.publicKey)
            try await cloud.importKeyPair(name: "numbat-family-1", publicKey: key.publicKey) // a retry replaces it
            #expect(try await cloud.keyPairNames() == ["numbat-family-1"])

            let rules = [FirewallRule(ipProtocol: "tcp", portFrom: 4369, portTo: 4369), FirewallRule(ipProtocol: "tcp", portFrom: 9100, portTo: 9199, source: "10.0.0.0/8")]
            let group = try await cloud.createSecurityGroup(name: "numbat-family-1", description: "Numbat family 1", rules: rules)
            #expect(Set(try await cloud.securityGroupRules(id: group) ?? []) == Set(rules))

            #expect(try await cloud.images().map(\.id) == [FakeOpenStack.imageID])
            #expect(try await cloud.sizes().map(\.name).contains("m1.small"))
            let request = InstanceRequest(name: "numbat-node-1", image: FakeOpenStack.imageID, size: "2", keyName: "numbat-family-1", securityGroup: group)
            let server = try await cloud.createInstance(request)
            #expect(server.state == "ACTIVE" && server.address?.hasPrefix("203.0.113.") == true, "the floating IP is the address: \(server)")
            let retried = try await cloud.createInstance(request)
            #expect(retried.id == server.id && retried.address == server.address, "a retried launch finds the same server and IP")
            var state = try await fake.state()
            #expect((state["servers"] as? [[String: Any]])?.first?["key_name"] as? String == "numbat-family-1")
            #expect((state["servers"] as? [[String: Any]])?.first?["security_groups"] as? [String] == [group])
            #expect((state["floatingips"] as? [Any])?.count == 1)

            // A token withdrawn early: the next call logs in again by itself.
            try await fake.revokeTokens()
            #expect(try await cloud.instance(id: server.id)?.address == server.address)

            try await cloud.destroyInstance(id: server.id)
            try await cloud.destroyInstance(id: server.id) // already gone: not an error
            #expect(try await cloud.instance(id: server.id) == nil)
            try await cloud.deleteSecurityGroup(id: group)
            try await cloud.deleteKeyPair(name: "numbat-family-1")
            state = try await fake.state()
            for kind in ["servers", "floatingips", "security_groups", "keypairs", "ports"] {
                #expect((state[kind] as? [Any])?.isEmpty == true, "\(kind) left: \(state[kind] ?? "")")
            }
        }
    }

    @Test("refusals in OpenStack's words: a wrong password, an unknown image, a missing network; nothing left behind")
    func refusals() async throws {
        try await FakeOpenStack.with { fake in
            await #expect { _ = try await Self.provider(fake, password: "wrong").sizes() } throws: { error in
                let error = error as? ProviderError
                return error?.code == "unauthorized" && error?.description.contains("Keystone refused numbat") == true && error?.description.contains("wrong") == false
            }
            let cloud = Self.provider(fake)
            await #expect { _ = try await cloud.createInstance(InstanceRequest(name: "numbat-x", image: "no-such-image", size: "1")) } throws: { error in
                (error as? ProviderError)?.description.contains("Invalid imageRef") == true
            }
            let lost = OpenStackProvider(configuration: .init(
                credentials: .init(authURL: fake.authURL, username: FakeOpenStack.username, password: FakeOpenStack.password, projectName: FakeOpenStack.projectName),
                network: "no-such-network"))
            await #expect { _ = try await lost.createInstance(InstanceRequest(name: "numbat-y", image: FakeOpenStack.imageID, size: "1")) } throws: { error in
                (error as? ProviderError)?.code == "network_not_found"
            }
            let state = try await fake.state()
            #expect((state["servers"] as? [Any])?.isEmpty == true && (state["floatingips"] as? [Any])?.isEmpty == true, "\(state)")
            let unreachable = OpenStackProvider(configuration: .init(credentials: .init(authURL: URL(string: "http://127.0.0.1:9/v3")!, username: "u", password: "p", projectName: "p")))
            await #expect { _ = try await unreachable.images() } throws: { error in (error as? ProviderError)?.code == "unreachable" }
        }
    }

    @Test("Keystone's dates, with and without microseconds")
    func dates() {
        #expect(KeystoneSession.parseDate("2026-12-02T10:00:00.123456Z") == KeystoneSession.parseDate("2026-12-02T10:00:00.123Z"))
        #expect(KeystoneSession.parseDate("2026-12-02T10:00:00Z") != nil)
        #expect(KeystoneSession.parseDate("yesterday") == nil)
    }
}
