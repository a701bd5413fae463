import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket on loopback, for tests that play a misbehaving peer byte by byte.
/// Use it from `offPool`, never on the cooperative pool.
final class RawSocket: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { Glibc.close(fd) }

    static func connect(port: Int) throws -> RawSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw Failure(description: "connect to \(port): errno \(errno)")
        }
        return RawSocket(fd: fd)
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += sent
        }
    }

    /// Exactly `count` bytes, failing on EOF or after `timeout`.
    func read(_ count: Int, timeout: Duration = .seconds(5)) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let chunk = try readSome(max: count - bytes.count, timeout: timeout)
            guard let chunk else { throw Failure(description: "EOF after \(bytes.count) of \(count) bytes") }
            bytes += chunk
        }
        return bytes
    }

    /// Reads until the peer closes; returns what was read, or nil if it did not close in `timeout`.
    func readUntilClosed(timeout: Duration) throws -> [UInt8]? {
        var bytes: [UInt8] = []
        do {
            while let chunk = try readSome(max: 65536, timeout: timeout) { bytes += chunk }
        } catch is TimedOut {
            return nil
        }
        return bytes
    }

    struct TimedOut: Error {}

    /// Up to `max` bytes; nil at EOF (or a reset, which is how a refused peer may close).
    private func readSome(max: Int, timeout: Duration) throws -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&poller, 1, milliseconds) > 0 else { throw TimedOut() }
        var buffer = [UInt8](repeating: 0, count: max)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
        if count <= 0 { return nil }
        return Array(buffer.prefix(count))
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// A listening socket on 127.0.0.1 with a port picked by the kernel.
final class RawListener: @unchecked Sendable {
    private let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = RawSocket.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && Glibc.listen(fd, 8) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(fd)
            throw RawSocket.Failure(description: "bind/listen: errno \(errno)")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { Glibc.close(fd) }

    /// The next connection, waiting at most `timeout`.
    func accept(timeout: Duration = .seconds(5)) throws -> RawSocket {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout.components.seconds * 1000)) > 0 else {
            throw RawSocket.Failure(description: "no connection within \(timeout)")
        }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw RawSocket.Failure(description: "accept: errno \(errno)") }
        return RawSocket(fd: client)
    }
}
