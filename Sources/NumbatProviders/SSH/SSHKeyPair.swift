import Crypto
import Foundation
import NIOSSH

/// An Ed25519 key pair for SSH: the key Numbat logs in with on physical hosts, and the key it
/// uploads to cloud providers for a node family. swift-nio-ssh speaks Ed25519 and ECDSA only, so
/// RSA keys are refused with a message saying so rather than failing later at login.
/// `@unchecked`: the key is immutable, but swift-crypto does not mark it `Sendable`.
public struct SSHKeyPair: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let privateKey: Curve25519.Signing.PrivateKey
    /// Written after the key in authorized_keys lines and the OpenSSH file.
    public let comment: String

    public init(privateKey: Curve25519.Signing.PrivateKey, comment: String = "numbat") {
        self.privateKey = privateKey
        self.comment = comment
    }

    public static func generate(comment: String = "numbat") -> SSHKeyPair {
        SSHKeyPair(privateKey: Curve25519.Signing.PrivateKey(), comment: comment)
    }

    /// The 32-byte seed, for storage (sealed by `SecretBox`).
    public var rawRepresentation: Data { privateKey.rawRepresentation }

    public init(rawRepresentation: Data, comment: String = "numbat") throws {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation) else {
            throw Failure(description: "a stored SSH key is not a 32-byte Ed25519 seed")
        }
        self.init(privateKey: key, comment: comment)
    }

    var nioPrivateKey: NIOSSHPrivateKey { NIOSSHPrivateKey(ed25519Key: privateKey) }

    /// The line for `~/.ssh/authorized_keys`: `ssh-ed25519 AAAA... comment`.
    public var authorizedKey: String {
        String(openSSHPublicKey: nioPrivateKey.publicKey) + " " + comment
    }

    /// The public key in OpenSSH form without a comment, as cloud APIs (ImportKeyPair) take it.
    public var publicKey: String { String(openSSHPublicKey: nioPrivateKey.publicKey) }

    // MARK: OpenSSH private key files (PROTOCOL.key: "openssh-key-v1", unencrypted)

    private static let magic = Array("openssh-key-v1".utf8) + [0]
    private static let begin = "-----BEGIN OPENSSH PRIVATE KEY-----"
    private static let end = "-----END OPENSSH PRIVATE KEY-----"

    /// Reads an unencrypted OpenSSH private key file, as `ssh-keygen -t ed25519 -N ''` writes it.
    public init(openSSHPrivateKey text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("-----BEGIN RSA PRIVATE KEY-----") || trimmed.contains("ssh-rsa") && !trimmed.hasPrefix(Self.begin) {
            throw Failure(description: "RSA keys are not supported (swift-nio-ssh signs with Ed25519 and ECDSA only); generate one with ssh-keygen -t ed25519")
        }
        guard trimmed.hasPrefix(Self.begin), trimmed.hasSuffix(Self.end) else {
            throw Failure(description: "not an OpenSSH private key (expected \(Self.begin) ... \(Self.end))")
        }
        let body = trimmed.dropFirst(Self.begin.count).dropLast(Self.end.count).filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(body)) else {
            throw Failure(description: "the OpenSSH private key is not valid base64")
        }
        var reader = SSHWireReader(bytes: [UInt8](data))
        guard try reader.bytes(count: Self.magic.count) == Self.magic else {
            throw Failure(description: "the private key does not start with openssh-key-v1")
        }
        let cipher = try reader.string()
        _ = try reader.string() // kdf name
        _ = try reader.string() // kdf options
        guard cipher == Array("none".utf8) else {
            throw Failure(description: "the private key is encrypted with a passphrase; Numbat needs an unencrypted key (ssh-keygen -p -N '' -f KEY removes it from a copy)")
        }
        guard try reader.uint32() == 1 else { throw Failure(description: "the key file holds more than one key") }
        _ = try reader.string() // public key blob
        var secret = SSHWireReader(bytes: try reader.string())
        guard try secret.uint32() == secret.uint32() else {
            throw Failure(description: "the private key's check bytes differ: the file is damaged")
        }
        let type = String(decoding: try secret.string(), as: UTF8.self)
        guard type == "ssh-ed25519" else {
            throw Failure(description: "the key type \(type) is not supported; Numbat uses ssh-ed25519 keys (ssh-keygen -t ed25519)")
        }
        let publicKey = try secret.string()
        let pair = try secret.string()
        guard pair.count == 64, publicKey.count == 32 else { throw Failure(description: "the Ed25519 key has the wrong length") }
        let comment = String(decoding: try secret.string(), as: UTF8.self)
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: pair[0..<32])
        guard key.publicKey.rawRepresentation == Data(publicKey) else {
            throw Failure(description: "the private key does not match its public key: the file is damaged")
        }
        self.init(privateKey: key, comment: comment.isEmpty ? "numbat" : comment)
    }

    /// The key as an OpenSSH private key file, for `ssh -i` when an operator logs in by hand.
    public var openSSHPrivateKey: String {
        let publicRaw = [UInt8](privateKey.publicKey.rawRepresentation)
        var publicBlob = SSHWireWriter()
        publicBlob.string(Array("ssh-ed25519".utf8))
        publicBlob.string(publicRaw)

        var secret = SSHWireWriter()
        let check = UInt32.random(in: .min ... .max)
        secret.uint32(check)
        secret.uint32(check)
        secret.string(Array("ssh-ed25519".utf8))
        secret.string(publicRaw)
        secret.string([UInt8](privateKey.rawRepresentation) + publicRaw)
        secret.string(Array(comment.utf8))
        var padding: UInt8 = 1
        while secret.bytes.count % 8 != 0 {
            secret.bytes.append(padding)
            padding += 1
        }

        var file = SSHWireWriter()
        file.bytes += Self.magic
        file.string(Array("none".utf8))
        file.string(Array("none".utf8))
        file.string([])
        file.uint32(1)
        file.string(publicBlob.bytes)
        file.string(secret.bytes)
        let encoded = Data(file.bytes).base64EncodedString()
        var lines = [Self.begin]
        var rest = Substring(encoded)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(70)))
            rest = rest.dropFirst(70)
        }
        lines.append(Self.end)
        return lines.joined(separator: "\n") + "\n"
    }
}

/// RFC 4251 wire encoding: big-endian uint32 and length-prefixed strings.
struct SSHWireReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func bytes(count: Int) throws -> [UInt8] {
        guard count >= 0, offset + count <= bytes.count else {
            throw SSHKeyPair.Failure(description: "the private key file is truncated")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func uint32() throws -> UInt32 {
        try bytes(count: 4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func string() throws -> [UInt8] {
        try bytes(count: Int(try uint32()))
    }
}

struct SSHWireWriter {
    var bytes: [UInt8] = []

    mutating func uint32(_ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    mutating func string(_ value: [UInt8]) {
        uint32(UInt32(value.count))
        bytes += value
    }
}
