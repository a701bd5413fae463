import Foundation

/// EPMD's wire format (OTP's "Distribution Protocol", section EPMD). Pure encoding and decoding;
/// `EPMDClient` does the I/O.
public enum EPMDProtocol {
    public static let defaultPort = 4369

    /// The port EPMD is reached on: `ERL_EPMD_PORT` when set, as `erl` reads it, else 4369.
    public static var configuredPort: Int {
        ProcessInfo.processInfo.environment["ERL_EPMD_PORT"].flatMap(Int.init).flatMap { (1...65535).contains($0) ? $0 : nil } ?? defaultPort
    }

    /// A node entry as `PORT_PLEASE2_RESP` describes it.
    public struct NodeEntry: Sendable, Hashable {
        public var port: Int
        /// 77 for a normal node, 72 for a hidden one.
        public var nodeType: UInt8
        public var highestVersion: UInt16
        public var lowestVersion: UInt16
        public var name: String

        public init(port: Int, nodeType: UInt8 = 77, highestVersion: UInt16 = 6, lowestVersion: UInt16 = 5, name: String) {
            self.port = port
            self.nodeType = nodeType
            self.highestVersion = highestVersion
            self.lowestVersion = lowestVersion
            self.name = name
        }
    }

    static let portPlease2Request: UInt8 = 122
    static let portPlease2Response: UInt8 = 119
    static let namesRequest: UInt8 = 110
    static let alive2Request: UInt8 = 120
    /// `ALIVE2_RESP`, with a 2-byte creation (EPMD before OTP 23).
    static let alive2Response: UInt8 = 121
    /// `ALIVE2_X_RESP`, with a 4-byte creation.
    static let alive2ExtendedResponse: UInt8 = 118

    /// Every request is prefixed by its 2-byte length.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
    }

    static func portPleaseRequest(name: String) -> [UInt8] {
        frame([portPlease2Request] + Array(name.utf8))
    }

    static func namesRequestBytes() -> [UInt8] { frame([namesRequest]) }

    /// `ALIVE2_REQ` announcing a distribution protocol version 6 listener.
    static func aliveRequest(name: String, port: Int, hidden: Bool) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        var payload: [UInt8] = [alive2Request, UInt8(port >> 8), UInt8(port & 0xFF), hidden ? 72 : 77, 0, 0, 6, 0, 6]
        payload += [UInt8(nameBytes.count >> 8), UInt8(nameBytes.count & 0xFF)] + nameBytes
        payload += [0, 0]
        return frame(payload)
    }

    /// Parses `PORT_PLEASE2_RESP`; nil means "no such node".
    static func parsePortPleaseResponse(_ bytes: [UInt8]) throws(DistributionError) -> NodeEntry? {
        guard bytes.count >= 2, bytes[0] == portPlease2Response else {
            throw .epmdProtocol("expected PORT2_RESP (119), got \(bytes.first.map(String.init) ?? "nothing")")
        }
        guard bytes[1] == 0 else { return nil }
        guard bytes.count >= 12 else { throw .epmdProtocol("PORT2_RESP is truncated") }
        let port = Int(bytes[2]) << 8 | Int(bytes[3])
        let highest = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
        let lowest = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
        let nameLength = Int(bytes[10]) << 8 | Int(bytes[11])
        guard bytes.count >= 12 + nameLength else { throw .epmdProtocol("PORT2_RESP name is truncated") }
        let name = String(decoding: bytes[12..<12 + nameLength], as: UTF8.self)
        return NodeEntry(port: port, nodeType: bytes[4], highestVersion: highest, lowestVersion: lowest, name: name)
    }

    /// Parses the `NAMES_RESP` text: `name foo at port 1234` lines after a 4-byte EPMD port.
    static func parseNamesResponse(_ bytes: [UInt8]) throws(DistributionError) -> [String: Int] {
        guard bytes.count >= 4 else { throw .epmdProtocol("NAMES_RESP is truncated") }
        var result: [String: Int] = [:]
        // Split on the bytes, not on Characters: a character such as U+0600 (a prepended mark)
        // makes one grapheme with the space after it, and a name split as text kept that space
        // (found by EPMDFuzz).
        for line in bytes.dropFirst(4).split(separator: UInt8(ascii: "\n")) {
            let words = line.split(separator: UInt8(ascii: " "))
            guard words.count == 5, words[0].elementsEqual("name".utf8), words[2].elementsEqual("at".utf8), words[3].elementsEqual("port".utf8),
                  let port = Int(String(decoding: words[4], as: UTF8.self)) else { continue }
            result[String(decoding: words[1], as: UTF8.self)] = port
        }
        return result
    }

    /// Parses `ALIVE2_X_RESP` (4-byte creation) or the older `ALIVE2_RESP` (2-byte creation);
    /// nil while more bytes are needed.
    static func parseAliveResponse(_ bytes: [UInt8], name: String) throws(DistributionError) -> UInt32? {
        guard let tag = bytes.first else { return nil }
        switch tag {
        case alive2ExtendedResponse:
            guard bytes.count >= 6 else { return nil }
            guard bytes[1] == 0 else { throw .registrationRefused(name: name, result: bytes[1]) }
            return UInt32(bytes[2]) << 24 | UInt32(bytes[3]) << 16 | UInt32(bytes[4]) << 8 | UInt32(bytes[5])
        case alive2Response:
            guard bytes.count >= 4 else { return nil }
            guard bytes[1] == 0 else { throw .registrationRefused(name: name, result: bytes[1]) }
            return UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        default:
            throw .epmdProtocol("expected ALIVE2 response, got tag \(tag)")
        }
    }

    // MARK: The server side (a stand-in EPMD, such as the node simulator's)

    /// A request as an EPMD server reads it.
    public enum Request: Sendable, Equatable {
        case portPlease(name: String)
        case names
        /// A request this server does not serve (registration, dump, kill...): its tag.
        case unsupported(UInt8)
    }

    /// Parses one framed request; nil while more bytes are needed. A request longer than EPMD's
    /// own limit is refused.
    public static func parseRequest(_ bytes: [UInt8]) throws(DistributionError) -> (request: Request, consumed: Int)? {
        guard bytes.count >= 2 else { return nil }
        let length = Int(bytes[0]) << 8 | Int(bytes[1])
        guard length > 0, length <= 512 else { throw .epmdProtocol("request length \(length) is out of range") }
        guard bytes.count >= 2 + length else { return nil }
        let payload = bytes[2..<2 + length]
        let request: Request = switch payload.first! {
        case portPlease2Request: .portPlease(name: String(decoding: payload.dropFirst(), as: UTF8.self))
        case namesRequest: .names
        case let tag: .unsupported(tag)
        }
        return (request, 2 + length)
    }

    /// `PORT_PLEASE2_RESP` for `entry`, or the "no such node" answer for nil.
    public static func portPleaseResponse(_ entry: NodeEntry?) -> [UInt8] {
        guard let entry else { return [portPlease2Response, 1] }
        let name = Array(entry.name.utf8)
        return [portPlease2Response, 0, UInt8(entry.port >> 8), UInt8(entry.port & 0xFF), entry.nodeType, 0,
                UInt8(entry.highestVersion >> 8), UInt8(entry.highestVersion & 0xFF),
                UInt8(entry.lowestVersion >> 8), UInt8(entry.lowestVersion & 0xFF),
                UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name + [0, 0]
    }

    /// `NAMES_RESP`: EPMD's port, then one `name N at port P` line per node.
    public static func namesResponse(epmdPort: Int, _ names: [(name: String, port: Int)]) -> [UInt8] {
        let port = UInt32(epmdPort)
        let text = names.map { "name \($0.name) at port \($0.port)\n" }.joined()
        return [UInt8(port >> 24), UInt8(port >> 16 & 0xFF), UInt8(port >> 8 & 0xFF), UInt8(port & 0xFF)] + Array(text.utf8)
    }
}
