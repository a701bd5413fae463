import Crypto
import Foundation

/// Seals secrets (cookies, cloud passwords) for storage with AES-256-GCM under a key kept in a
/// file of its own (mode 0600) in the data directory: a copied database alone reveals nothing.
/// `@unchecked`: `SymmetricKey` is immutable after creation but not marked `Sendable` by swift-crypto.
public struct SecretBox: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let key: SymmetricKey

    public init(key: SymmetricKey) {
        self.key = key
    }

    /// Loads the key from `url`, creating it (32 random bytes, mode 0600) on first use.
    /// Refuses a key file that others can read.
    public static func loadOrCreate(at url: URL) throws -> SecretBox {
        let manager = FileManager.default
        if manager.fileExists(atPath: url.path) {
            let attributes = try manager.attributesOfItem(atPath: url.path)
            if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
                throw Failure(description: "the key file \(url.path) is readable by others (mode \(String(mode, radix: 8))); run chmod 600 on it")
            }
            let data = try Data(contentsOf: url)
            guard data.count == 32 else { throw Failure(description: "the key file \(url.path) does not hold a 32-byte key") }
            return SecretBox(key: SymmetricKey(data: data))
        }
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        guard manager.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw Failure(description: "cannot create the key file \(url.path)")
        }
        try data.write(to: url)
        return SecretBox(key: key)
    }

    /// Nonce, ciphertext and tag in one blob.
    public func seal(_ secret: String) throws -> Data {
        guard let combined = try AES.GCM.seal(Data(secret.utf8), using: key).combined else {
            throw Failure(description: "sealing failed")
        }
        return combined
    }

    public func open(_ sealed: Data) throws -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return String(decoding: try AES.GCM.open(box, using: key), as: UTF8.self)
        } catch {
            throw Failure(description: "a stored secret cannot be decrypted: the key file does not match the database")
        }
    }
}
