import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bound, unlistened IPv4 socket: how a test finds a free port on a loopback address.
public struct Socket4: Sendable {
    public let fd: Int32
    public let port: Int

    /// Binds `host:port` (port 0: any free one); `port` is 0 in the answer when binding failed.
    public static func bind(host: String, port: Int = 0) -> Socket4 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return Socket4(fd: fd, port: 0) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Socket4(fd: fd, port: Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// A TCP port free on every one of `hosts` (loopback addresses) when asked: for peers that must
/// all listen on one port, as nodes started with `-erl_epmd_port` do. Picked below the kernel's
/// ephemeral range (32768-60999), where no outgoing connection takes it between this check and
/// the peer's listen, and free on the wildcard address too, where a node listens by default.
public func freePort(onAll hosts: [String]) throws -> Int {
    for _ in 0..<200 {
        let port = Int.random(in: 20000..<32768)
        // One at a time: a socket on the wildcard address would hold the port on every other.
        let free = (["0.0.0.0"] + hosts).allSatisfy { host in
            let socket = Socket4.bind(host: host, port: port)
            close(socket.fd)
            return socket.port == port
        }
        if free { return port }
    }
    throw FreePortFailure(description: "no port free on all of \(hosts)")
}

public struct FreePortFailure: Error, CustomStringConvertible {
    public let description: String
}
