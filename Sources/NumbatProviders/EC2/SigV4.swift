import Crypto
import Foundation

/// AWS Signature Version 4 for header-signed requests, a pure function of the request, the
/// credentials and the time (validated against AWS's published test suite in SigV4Tests).
public struct SigV4: Sendable {
    public struct Credentials: Sendable {
        public var accessKeyID: String
        public var secretAccessKey: String

        public init(accessKeyID: String, secretAccessKey: String) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
        }
    }

    public var credentials: Credentials
    public var region: String
    public var service: String

    public init(credentials: Credentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The signed parts of a request. `headers` must include `host`; `x-amz-date` is added.
    public struct Request {
        public var method: String
        public var path: String
        public var query: [(String, String)]
        public var headers: [(String, String)]
        public var body: [UInt8]

        public init(method: String, path: String = "/", query: [(String, String)] = [], headers: [(String, String)], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// The headers to send: the request's own, `X-Amz-Date` and `Authorization`.
    public func sign(_ request: Request, at date: Date) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        var headers = request.headers + [("X-Amz-Date", stamp)]
        headers.append(("Authorization", authorization(request, timestamp: stamp)))
        return headers
    }

    func authorization(_ request: Request, timestamp: String) -> String {
        let day = String(timestamp.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let canonical = canonicalRequest(request, timestamp: timestamp)
        let signed = Self.signedHeaderNames(request.headers + [("x-amz-date", timestamp)])
        let toSign = stringToSign(canonical: canonical, timestamp: timestamp, scope: scope)
        var key = SymmetricKey(data: Data(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signed), Signature=\(signature)"
    }

    func canonicalRequest(_ request: Request, timestamp: String) -> String {
        let headers = (request.headers + [("x-amz-date", timestamp)])
            .map { ($0.0.lowercased(), Self.trimmed($0.1)) }
            .sorted { $0.0 < $1.0 }
        let encoded: [(key: String, value: String)] = request.query.map { (Self.encode($0.0), Self.encode($0.1)) }
        let query = encoded
            .sorted { a, b in a.key == b.key ? a.value < b.value : a.key < b.key }
            .map { pair in pair.key + "=" + pair.value }
            .joined(separator: "&")
        return [
            request.method,
            request.path.split(separator: "/", omittingEmptySubsequences: false).map { Self.encode(String($0)) }.joined(separator: "/"),
            query,
            headers.map { "\($0.0):\($0.1)\n" }.joined(),
            Self.signedHeaderNames(request.headers + [("x-amz-date", timestamp)]),
            Self.hex(SHA256.hash(data: request.body)),
        ].joined(separator: "\n")
    }

    func stringToSign(canonical: String, timestamp: String, scope: String) -> String {
        ["AWS4-HMAC-SHA256", timestamp, scope, Self.hex(SHA256.hash(data: Data(canonical.utf8)))].joined(separator: "\n")
    }

    static func signedHeaderNames(_ headers: [(String, String)]) -> String {
        Set(headers.map { $0.0.lowercased() }).sorted().joined(separator: ";")
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 wants.
    public static func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func trimmed(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
