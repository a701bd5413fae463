import Foundation
import NumbatTestSupport
import Testing
@testable import NumbatProviders

/// The Libcloud bridge against PyPI's apache-libcloud with its own dummy driver: the real
/// library and the real protocol; only the cloud behind the driver is Libcloud's dummy.
@Suite("Libcloud bridge with the dummy driver", .requires(.libcloud))
struct LibcloudTests {

    @Test("nodes made, found and destroyed; images and sizes; key import; what the driver lacks is said plainly")
    func dummyDriver() async throws {
        let bridge = LibcloudBridge(configuration: .init(driver: "dummy"))
        let provider = LibcloudProvider(bridge: bridge, sshPort: 2222)
        let greeting = try await bridge.hello()
        #expect(greeting.driver == "Dummy Node Provider" && greeting.libcloud.hasPrefix("3."), "\(greeting)")
        #expect(try await provider.images().map(\.name).contains("Ubuntu 9.10"))
        #expect(try await provider.sizes().map(\.id) == ["1", "2", "3", "4"])

        // Many at once: answers come back by id, whatever their order.
        let made = try await withThrowingTaskGroup(of: ProvisionedInstance.self) { group in
            for index in 0..<5 {
                group.addTask { try await provider.createInstance(InstanceRequest(name: "numbat-\(index)", image: "1", size: "1")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(made.compactMap(\.address)) == Set((3...7).map { "127.0.0.\($0)" }), "\(made)")
        #expect(made.allSatisfy { $0.sshPort == 2222 && $0.state == "running" })
        let first = try #require(made.first)
        #expect(try await provider.instance(id: first.id) == first)
        try await provider.destroyInstance(id: first.id)
        try await provider.destroyInstance(id: first.id) // already gone: not an error
        #expect(try await provider.instance(id: first.id) == nil)

        try await provider.importKeyPair(name: "numbat-family", publicKey: SSHKeyPair.generate().publicKey)
        try await provider.deleteKeyPair(name: "numbat-family") // the dummy cannot delete: skipped, not failed
        await #expect { _ = try await provider.createSecurityGroup(name: "g", description: "", rules: []) } throws: { error in
            (error as? ProviderError)?.code == "not_supported"
        }
        await #expect { _ = try await provider.createInstance(InstanceRequest(name: "x", image: "no-such-image", size: "1")) } throws: { error in
            (error as? ProviderError)?.description.contains("no image 'no-such-image'") == true
        }
        await bridge.close()
    }

    @Test("a driver Libcloud does not have is refused by name; a bridge that dies fails its calls clearly and is started again")
    func failures() async throws {
        let unknown = LibcloudBridge(configuration: .init(driver: "no-such-driver"))
        await #expect { try await unknown.hello() } throws: { error in
            (error as? ProviderError)?.code == "unknown_driver" && "\(error)".contains("no-such-driver")
        }
        await unknown.close()

        let bridge = LibcloudBridge(configuration: .init(driver: "dummy"))
        let provider = LibcloudProvider(bridge: bridge)
        _ = try await provider.createInstance(InstanceRequest(name: "a", image: "1", size: "1"))
        let pid = try #require(await bridge.processIdentifier)
        kill(pid, SIGKILL)
        let restarted = try await eventuallyValue(within: .seconds(10)) { () -> Int32? in
            // The first call after the death may still be answered "exited"; then it starts again.
            guard (try? await provider.images()) != nil else { return nil }
            return await bridge.processIdentifier
        }
        #expect(restarted != nil && restarted != pid, "a new bridge process answers")
        // A restarted dummy has forgotten the node: the dummy keeps its cloud in the process.
        #expect(try await provider.instance(id: "3") == nil)

        // Closing its input is the bridge's signal to exit: it never outlives Numbat.
        let last = try #require(await bridge.processIdentifier)
        await bridge.close()
        let exited = try await eventuallyValue(within: .seconds(10)) { kill(last, 0) != 0 || Self.isZombie(last) ? true : nil }
        #expect(exited == true, "the bridge exits when its input closes")
    }

    static func isZombie(_ pid: Int32) -> Bool {
        ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").split(separator: " ").dropFirst(2).first == "Z"
    }
}

/// Polls `probe` until it returns a value, or gives nil after `within`.
func eventuallyValue<T>(within limit: Duration, _ probe: () async throws -> T?) async throws -> T? {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if let value = try await probe() { return value }
        try await Task.sleep(for: .milliseconds(50))
    }
    return nil
}
