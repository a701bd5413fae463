import Testing
@testable import NumbatProviders

@Suite("the XML reader for cloud answers")
struct XMLNodeTests {
    @Test("an EC2 answer: namespaces, nesting, entities, self-closing elements")
    func ec2Answer() throws {
        let tree = try XMLNode.parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
              <requestId>r-1</requestId>
              <instancesSet><item><instanceId>i-1</instanceId><instanceState><code>0</code><name>pending</name></instanceState>
              <reason/><tag key="a&amp;b">x &lt; y &#233; &#x41;</tag></item></instancesSet>
            </RunInstancesResponse>
            """)
        #expect(tree.name == "RunInstancesResponse")
        let item = try #require(tree["instancesSet"]?["item"])
        #expect(item.value("instanceId") == "i-1")
        #expect(item.value("instanceState", "name") == "pending")
        #expect(item.value("reason") == "")
        #expect(item.value("tag") == "x < y é A")
    }

    @Test("damaged XML is an error, never a crash", arguments: ["", "plain text", "<a>", "<a><b></a", "<?xml", "<a attr=\"x>"])
    func damaged(text: String) {
        #expect(throws: XMLNode.Failure.self) { try XMLNode.parse(text) }
    }

    @Test("nesting is bounded")
    func deep() {
        let text = String(repeating: "<a>", count: 100) + String(repeating: "</a>", count: 100)
        #expect(throws: XMLNode.Failure.self) { try XMLNode.parse(text) }
    }
}
