import ErlangDist
import ErlangTerm
import Testing

/// How a node is written when it runs without EPMD: `app@host:PORT`, `app@[IPv6]:PORT`.
@Suite("node addresses")
struct NodeAddressTests {
    @Test("a name alone, a name with a port, an IPv6 name with and without brackets", arguments: [
        ("app@127.0.0.1", "app", "127.0.0.1", nil),
        ("app@db1", "app", "db1", nil),
        ("app@127.0.0.1:9100", "app", "127.0.0.1", 9100),
        ("app@db1.example.com:1", "app", "db1.example.com", 1),
        ("app@::1", "app", "::1", nil),
        ("app@fe80::1:2", "app", "fe80::1:2", nil),
        ("app@[::1]", "app", "::1", nil),
        ("app@[::1]:65535", "app", "::1", 65535),
    ] as [(String, String, String, Int?)])
    func parses(text: String, alive: String, host: String, port: Int?) throws {
        let address = try NodeAddress(text)
        #expect(address.name == NodeName(alive: alive, host: host))
        #expect(address.port == port)
        // Written back in a form that parses to the same address.
        #expect(try NodeAddress(address.description) == address)
    }

    @Test("a port that is not 1-65535, or junk after the brackets, is refused naming the text", arguments: [
        "app@127.0.0.1:0", "app@127.0.0.1:65536", "app@127.0.0.1:", "app@127.0.0.1:http", "app@[::1]9100", "app@[::1]:x", "@127.0.0.1:9100",
    ])
    func refuses(text: String) {
        #expect(throws: DistributionError.self) { try NodeAddress(text) }
        do {
            _ = try NodeAddress(text)
        } catch {
            #expect(error.description.contains(text) || text.hasPrefix("@"), "\(error)")
        }
    }

    @Test("node names: alive@host with net_kernel's characters; a host in any script's letters", arguments: [
        ("app@127.0.0.1", "app", "127.0.0.1"), ("my_app-2@db1.example.com", "my_app-2", "db1.example.com"),
        ("A@b", "A", "b"), ("app@fe80::1", "app", "fe80::1"), ("app@[::1]", "app", "[::1]"),
        ("app@häst.example", "app", "häst.example"), ("app@節點", "app", "節點"),
        (String(repeating: "a", count: 255) + "@h", String(repeating: "a", count: 255), "h"),
    ] as [(String, String, String)])
    func names(text: String, alive: String, host: String) throws {
        let parsed = try NodeName(text), made = NodeName(alive: alive, host: host)
        #expect(parsed == made && parsed.hashValue == made.hashValue)
        // The atom, made once either way, is the text.
        #expect(parsed.atom == Atom(text) && made.atom == Atom(text) && parsed.description == text && made.description == text)
        #expect(parsed != NodeName(alive: alive + "x", host: host) && parsed != NodeName(alive: alive, host: host + "x"))
        #expect(parsed.isLong == (host.contains(".") || host.contains(":")) && made.isLong == parsed.isLong)
    }

    @Test("a node name without both parts, with other characters, or too long is refused", arguments: [
        "", "app", "@host", "app@", "@", "a pp@host", "app@ho st", "app@h@st", "app@@host", "äpp@host", "app@host/x",
        "app@host!", "app@häst@x", "app@host\u{0}", String(repeating: "a", count: 256) + "@h", "a@" + String(repeating: "h", count: 256),
    ])
    func badNames(text: String) {
        #expect(throws: DistributionError.self) { try NodeName(text) }
    }
}
