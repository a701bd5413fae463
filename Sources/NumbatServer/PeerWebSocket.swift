import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A WebSocket client connection from this server to another server of the cluster: the live
/// metrics of a node the other one holds, relayed to this server's caller
/// (`ClusterForwarder.relayWebSocket`). Plain `ws://` between servers, as their HTTP API is.
final class PeerWebSocket: Sendable {
    typealias Frames = NIOAsyncChannel<WebSocketFrame, WebSocketFrame>

    /// The holder answered without upgrading (a 404 for an unknown node, a 401): its answer.
    struct Refused: Error {
        let response: Response
    }

    private enum Negotiated: Sendable {
        case upgraded(Frames)
        case refused(NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>)
    }

    private let frames: Frames

    private init(frames: Frames) {
        self.frames = frames
    }

    static func connect(url: URL, headers: [(String, String)], timeout: TimeAmount = .seconds(10)) async throws -> PeerWebSocket {
        guard let host = url.host, !host.isEmpty else { throw URLError(.badURL) }
        let port = url.port ?? 80
        var target = url.path.isEmpty ? "/" : url.path
        if let query = url.query, !query.isEmpty { target += "?" + query }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target)
        head.headers.add(name: "Host", value: url.port.map { "\(host):\($0)" } ?? host)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let requestHead = head
        let opened = NIOLockedValueBox<(any Channel)?>(nil)
        let negotiation = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .connect(host: host, port: port) { channel in
                opened.withLockedValue { $0 = channel }
                return channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Negotiated>(maxFrameSize: 1 << 24) { channel, _ in
                        channel.eventLoop.makeCompletedFuture { .upgraded(try Frames(wrappingChannelSynchronously: channel)) }
                    }
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Negotiated>(
                        upgradeRequestHead: requestHead, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                .refused(try NIOAsyncChannel(wrappingChannelSynchronously: channel))
                            }
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                }
            }
        // A holder that accepts the connection but never answers (frozen) must not hold the
        // caller forever.
        let negotiated = try await withThrowingTaskGroup(of: Negotiated?.self) { group in
            group.addTask { try await negotiation.get() }
            group.addTask {
                try await Task.sleep(for: .seconds(Int64(timeout.nanoseconds / 1_000_000_000)))
                return nil
            }
            let first = try await group.next() ?? nil
            // Timed out: closing the connection ends the negotiation (and its task) too.
            if first == nil { opened.withLockedValue { $0 }?.close(promise: nil) }
            group.cancelAll()
            return first
        }
        switch negotiated {
        case .upgraded(let frames)?:
            return PeerWebSocket(frames: frames)
        case .refused(let http)?:
            throw Refused(response: try await Self.read(http))
        case nil:
            throw URLError(.timedOut)
        }
    }

    /// The refusal: status, content type and body, as the holder sent them.
    private static func read(_ http: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>) async throws -> Response {
        try await http.executeThenClose { inbound, _ in
            var status = HTTPResponse.Status.serviceUnavailable
            var headers = HTTPFields()
            var body = ByteBuffer()
            loop: for try await part in inbound {
                switch part {
                case .head(let head):
                    status = HTTPResponse.Status(code: Int(head.status.code))
                    if let type = head.headers.first(name: "Content-Type") { headers[.contentType] = type }
                case .body(var chunk):
                    body.writeBuffer(&chunk)
                case .end:
                    break loop
                }
            }
            return Response(status: status, headers: headers, body: .init(byteBuffer: body))
        }
    }

    /// Relays messages both ways until either side closes; closes the other then.
    func relay(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        try await frames.executeThenClose { fromPeer, toPeer in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        switch message {
                        case .text(let text):
                            try await toPeer.write(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: text)))
                        case .binary(let data):
                            try await toPeer.write(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: data))
                        }
                    }
                }
                group.addTask {
                    var message = ByteBuffer()
                    var opcode = WebSocketOpcode.text
                    for try await frame in fromPeer {
                        switch frame.opcode {
                        case .text, .binary, .continuation:
                            if frame.opcode != .continuation {
                                opcode = frame.opcode
                                message.clear()
                            }
                            var data = frame.unmaskedData
                            message.writeBuffer(&data)
                            guard frame.fin else { continue }
                            if opcode == .text {
                                try await outbound.write(.text(String(buffer: message)))
                            } else {
                                try await outbound.write(.binary(message))
                            }
                            message = ByteBuffer()
                        case .ping:
                            try await toPeer.write(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
                        case .connectionClose:
                            return
                        default:
                            continue
                        }
                    }
                }
                // Either side ending ends both.
                try await group.next()
                group.cancelAll()
            }
            var reason = ByteBuffer()
            reason.write(webSocketErrorCode: .normalClosure)
            try? await toPeer.write(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reason))
        }
    }

    /// Closes the connection (a relay that never began).
    func close() async {
        try? await frames.executeThenClose { _, _ in }
    }

    /// A connection waiting for the caller's upgrade: taken once, or closed after a while.
    final class Claim: Sendable {
        private let peer: NIOLockedValueBox<PeerWebSocket?>

        init(_ peer: PeerWebSocket) {
            self.peer = NIOLockedValueBox(peer)
        }

        func take() -> PeerWebSocket? {
            peer.withLockedValue { peer in
                defer { peer = nil }
                return peer
            }
        }

        func closeUnlessTaken(after delay: Duration) {
            Task {
                try? await Task.sleep(for: delay)
                await self.take()?.close()
            }
        }
    }
}
