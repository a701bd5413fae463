import ErlangDist
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The simulator's own EPMD: answers `PORT_PLEASE2` and `NAMES` for the simulated nodes on each
/// of their loopback addresses, on one port (the one Numbat is told with `ERL_EPMD_PORT`). A
/// real EPMD keeps a TCP connection per registered node; thousands of simulated nodes would
/// need as many, so they answer from a table instead. The wire format is `EPMDProtocol`'s.
final class SimulatorEPMD: Sendable {
    private let names = NIOLockedValueBox<[String: [String: Int]]>([:])
    private let listeners = NIOLockedValueBox<[any Channel]>([])
    let port: Int

    init(port: Int) { self.port = port }

    /// Answers for `alive` on `host` at `distributionPort`.
    func register(alive: String, host: String, distributionPort: Int) {
        names.withLockedValue { $0[host, default: [:]][alive] = distributionPort }
    }

    /// Listens on `host` (once per address).
    func listen(on host: String, group: any EventLoopGroup) async throws {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(epmd: self, host: host))
                }
            }
            .bind(host: host, port: port).get()
        listeners.withLockedValue { $0.append(channel) }
    }

    func close() async {
        for channel in listeners.withLockedValue({ $0 }) { try? await channel.close() }
    }

    /// The answer to `request` asked on `host`.
    func answer(_ request: EPMDProtocol.Request, host: String) -> [UInt8]? {
        let table = names.withLockedValue { $0[host] ?? [:] }
        switch request {
        case .portPlease(let name):
            return EPMDProtocol.portPleaseResponse(table[name].map { EPMDProtocol.NodeEntry(port: $0, name: name) })
        case .names:
            return EPMDProtocol.namesResponse(epmdPort: port, table.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        case .unsupported:
            return nil
        }
    }

    /// One connection: one request, one answer, closed (as EPMD does for lookups).
    private final class Responder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let epmd: SimulatorEPMD
        let host: String
        var received: [UInt8] = []

        init(epmd: SimulatorEPMD, host: String) {
            self.epmd = epmd
            self.host = host
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readBytes(length: buffer.readableBytes) ?? []
            let parsed: (request: EPMDProtocol.Request, consumed: Int)?
            do {
                parsed = try EPMDProtocol.parseRequest(received)
            } catch {
                context.close(promise: nil)
                return
            }
            guard let parsed else { return }
            guard let answer = epmd.answer(parsed.request, host: host) else {
                context.close(promise: nil)
                return
            }
            let out = context.channel.allocator.buffer(bytes: answer)
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
