import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the server is and how to authenticate: flags, else `NUMBAT_URL` / `NUMBAT_TOKEN`.
struct ClientOptions: ParsableArguments {
    @Option(help: "The server's URL (default: $NUMBAT_URL, then http://127.0.0.1:8080).")
    var server: String?

    @Option(help: "API token (default: $NUMBAT_TOKEN; not needed on a loopback-only server).")
    var token: String?

    @Flag(help: "Print the server's JSON instead of a table.")
    var json = false

    func client() -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        return APIClient(base: server ?? environment["NUMBAT_URL"] ?? "http://127.0.0.1:8080",
                         token: token ?? environment["NUMBAT_TOKEN"])
    }
}

/// A small client of the REST API for the CLI commands.
struct APIClient {
    let base: String
    let token: String?

    /// An error the server sent, or a failure to reach it; printed as one line.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The ws(s):// URL of a WebSocket route, with the token as a query parameter (browsers and
    /// this client alike cannot set headers on the upgrade).
    func webSocketURL(_ path: String, query: [String] = []) -> String {
        let url = base.replacingOccurrences(of: "http", with: "ws", options: .anchored) + path
        let parameters = query + (token.map { ["token=\($0)"] } ?? [])
        return parameters.isEmpty ? url : url + "?" + parameters.joined(separator: "&")
    }

    /// Sends a request and returns the body; non-2xx answers throw with the server's message.
    func send(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> Data {
        try await send(method, path, data: try body.map { try JSONSerialization.data(withJSONObject: $0) }, contentType: "application/json")
    }

    /// Sends `data` as the body (JSON of any shape, or an archive), returning the answer's body.
    func send(_ method: String, _ path: String, data body: Data?, contentType: String) async throws -> Data {
        guard let url = URL(string: base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path) else {
            throw Failure(description: "invalid server URL \(base)")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw Failure(description: "cannot reach the Numbat server at \(base): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            if let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let error = document["error"] as? [String: Any], let message = error["message"] as? String
            {
                throw Failure(description: "\(message) (\(status) \(error["code"] as? String ?? ""))")
            }
            throw Failure(description: "the server answered \(status)")
        }
        return data
    }

    func json(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> [String: Any] {
        try Self.object(try await send(method, path, body: body))
    }

    func json(_ method: String, _ path: String, data: Data, contentType: String) async throws -> [String: Any] {
        try Self.object(try await send(method, path, data: data, contentType: contentType))
    }

    private static func object(_ data: Data) throws -> [String: Any] {
        if data.isEmpty { return [:] }
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Failure(description: "the server's answer is not a JSON object")
        }
        return object
    }
}

/// Prints rows as aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    print(line(header))
    for row in rows { print(line(row)) }
}

/// Prints JSON as the server sent it, pretty.
func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Runs a client command, turning failures into one line on stderr and exit code 1.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as APIClient.Failure {
        FileHandle.standardError.write(Data("numbat: \(failure)\n".utf8))
        throw ExitCode.failure
    }
}
