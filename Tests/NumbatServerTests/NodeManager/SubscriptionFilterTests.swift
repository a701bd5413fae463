import Foundation
import NumbatCore
@testable import NumbatServer
import Testing

/// The WebSocket's subscription filter and its one list of topics, without a socket.
@Suite("subscription filter (pure)")
struct SubscriptionFilterTests {
    let node = ManagedNode(name: "a@h", state: .up, host: "h")

    @Test("every kind of event is on a topic the hello frame announces")
    func topics() throws {
        let family = NodeFamily(name: "f", kind: .automatic)
        let events: [NumbatEvent.Kind] = [
            .nodeAdded(node), .nodeStateChanged(node: node, from: .down), .nodeRemoved(id: node.id, name: node.name),
            .familyCreated(family), .familyRemoved(id: family.id, name: "f"),
            .agentUnavailable(node: node, agent: "metrics", reason: "r", fallback: "f"),
            .deployment(DeploymentProgress(nodeID: node.id, familyID: family.id, step: .done, state: .up)),
        ]
        struct Hello: Decodable {
            var type: String
            var topics: [String]
        }
        let hello = try JSONDecoder().decode(Hello.self, from: Data(SocketMessage.hello.json.utf8))
        #expect(hello.type == "hello")
        for event in events {
            #expect(hello.topics.contains(NumbatEvent(event).topic.rawValue))
        }
        #expect(hello.topics == EventTopic.names)
        #expect(EventTopic.names.contains("deployment"))
    }

    @Test("topics and nodes filter; events about no node pass a node filter by topic")
    func matching() throws {
        let filter = try SubscriptionFilter.parse(#"{"subscribe": {"topics": ["node", "family"], "nodes": ["\#(node.id.uuidString)"]}}"#).get()
        #expect(filter.matches(NumbatEvent(.nodeStateChanged(node: node, from: .down))))
        let other = ManagedNode(name: "b@h", state: .up, host: "h")
        #expect(!filter.matches(NumbatEvent(.nodeStateChanged(node: other, from: .down))))
        #expect(filter.matches(NumbatEvent(.familyCreated(NodeFamily(name: "f", kind: .automatic)))))
        #expect(!filter.matches(NumbatEvent(.agentUnavailable(node: node, agent: "a", reason: "r", fallback: "f"))))
        #expect(SubscriptionFilter.everything.matches(NumbatEvent(.agentUnavailable(node: other, agent: "a", reason: "r", fallback: "f"))))
        let all = try SubscriptionFilter.parse(#"{"subscribe": {}}"#).get()
        #expect(all == .everything)
    }

    @Test("an unknown topic, a bad node id and malformed JSON are refused in words")
    func refused() {
        #expect(SubscriptionFilter.parse(#"{"subscribe": {"topics": ["nodes"]}}"#)
            == .failure(SubscriptionError(message: "unknown topic(s) nodes; topics: \(EventTopic.names.joined(separator: ", "))")))
        #expect(SubscriptionFilter.parse(#"{"subscribe": {"nodes": ["x"]}}"#) == .failure(SubscriptionError(message: "nodes must be node ids (UUIDs)")))
        if case .success = SubscriptionFilter.parse("{") { Issue.record("malformed JSON accepted") }
    }
}
