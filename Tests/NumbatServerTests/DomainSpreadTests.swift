import Foundation
import NumbatAPI
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// Where a deployment without a provider puts its nodes (seed listing 2, `{"amount": 3}`).
@Suite("domain spread")
struct DomainSpreadTests {
    let a = UUID(), b = UUID(), c = UUID()

    @Test("round robin fills the domains with the fewest nodes first, ties to the older domain, and stays balanced over calls")
    func roundRobin() {
        var random = SeededRandom(seed: 1)
        var spread = DomainSpread(domains: [a, b, c], deployed: [a: 3], strategy: "round_robin")
        #expect(spread.place(4, random: &random) == [b, c, b, c])
        #expect(spread.place(3, random: &random) == [b, c, a])
        #expect(spread.deployed == [a: 4, b: 3, c: 3])
        var one = DomainSpread(domains: [a], deployed: [:], strategy: "round_robin")
        #expect(one.place(3, random: &random) == [a, a, a])
        var none = DomainSpread(domains: [], deployed: [:], strategy: "round_robin")
        #expect(none.place(3, random: &random).isEmpty)
    }

    @Test("random picks among the family's domains only, and reaches each of them")
    func random() {
        var random = SeededRandom(seed: 7)
        var spread = DomainSpread(domains: [a, b, c], deployed: [:], strategy: "random")
        let placed = spread.place(300, random: &random)
        #expect(Set(placed) == [a, b, c])
        #expect(placed.count == 300 && spread.deployed.values.reduce(0, +) == 300)
    }

    @Test("a deployment may leave out its provider; a wrong one is still refused by name")
    func request() throws {
        let decoded = try JSONDecoder().decode(DeployRequest.self, from: Data(#"{"amount": 3}"#.utf8))
        #expect(decoded == DeployRequest(amount: 3, provider: nil, autostart: true))
        #expect(throws: (any Error).self) { try JSONDecoder().decode(DeployRequest.self, from: Data(#"{"amount": 3, "provider": "nope"}"#.utf8)) }
    }
}

/// The seed's domain body (listing 9) and the user names a domain takes.
@Suite("domain requests")
struct DomainRequestTests {
    @Test("the seed's listing 9 domain, with its type, decodes; a type other than virtual or physical and a user name that is not one are refused")
    func seedDomain() throws {
        let provider = UUID()
        let seed = #"{"provider": "\#(provider)", "ssh_user": "ubuntu", "vdisk": "ami-0cdf4965", "hw_profile": "t1.micro", "type": "virtual"}"#
        let decoded = try JSONDecoder().decode(AddDomainRequest.self, from: Data(seed.utf8))
        #expect(decoded.type == "virtual" && decoded.sshUser == "ubuntu" && decoded.vdisk == "ami-0cdf4965")
        for bad in [#""ssh_user": "ubuntu", "type": "cloud""#, #""ssh_user": "root; rm -rf /""#, #""ssh_user": "a b""#] {
            let body = #"{"provider": "\#(provider)", \#(bad)}"#
            #expect(throws: (any Error).self, "\(bad)") { try JSONDecoder().decode(AddDomainRequest.self, from: Data(body.utf8)) }
        }
    }
}
