import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NumbatCore

/// Who is calling: set by the server's authentication middleware before any route runs.
public struct Identity: Sendable, Equatable {
    public var name: String
    public var role: APIToken.Role
    /// The token used, if any (loopback callers on a loopback-only server have none).
    public var tokenID: UUID?

    public init(name: String, role: APIToken.Role, tokenID: UUID? = nil) {
        self.name = name
        self.role = role
        self.tokenID = tokenID
    }
}

/// The request context of every Numbat route, HTTP and WebSocket alike.
public struct NumbatRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<NumbatRequestContext>
    public let remoteAddress: SocketAddress?
    /// Set by authentication; nil only before it ran.
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
        identity = nil
    }

    /// Request bodies above this size are refused with 413 (release uploads stream instead).
    public var maxUploadSize: Int { 8 << 20 }

    /// Throws 403 unless the caller is an admin.
    public func requireAdmin() throws {
        guard identity?.role == .admin else {
            throw NumbatError(.forbidden, "forbidden", "this needs an admin token")
        }
    }
}
