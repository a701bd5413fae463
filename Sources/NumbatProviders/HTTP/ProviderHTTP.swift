import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The HTTP that cloud clients speak: one request, the whole answer, a clear error when the
/// endpoint cannot be reached. Foundation's URLSession (libcurl on Linux) does TLS and proxies,
/// so the cloud clients need no HTTP stack of their own.
public struct ProviderHTTP: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data

        public var text: String { String(decoding: body, as: UTF8.self) }

        /// A header, by case-insensitive name.
        public func header(_ name: String) -> String? {
            headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    public var timeout: TimeInterval

    public init(timeout: TimeInterval = 30) {
        self.timeout = timeout
    }

    public func send(_ method: String, _ url: URL, headers: [(String, String)] = [], body: Data? = nil) async throws -> Response {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        for (name, value) in headers where name.lowercased() != "host" {
            request.setValue(value, forHTTPHeaderField: name)
        }
        request.httpBody = body
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw ProviderError("cannot reach \(url.host ?? url.absoluteString): \(error.localizedDescription)", code: "unreachable")
        }
        guard let http = response as? HTTPURLResponse else { throw ProviderError("\(url) gave no HTTP response") }
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name] = value }
        }
        return Response(status: http.statusCode, headers: fields, body: data)
    }
}
