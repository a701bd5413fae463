import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore
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

    /// A decoded answer and the server's own bytes, which `--json` prints unchanged.
    struct Reply<Value> {
        var value: Value
        var data: Data
    }

    /// Sends a request without a body and decodes the answer as NumbatAPI's `Response`.
    func call<Response: Decodable>(_ method: String, _ path: String, as type: Response.Type) async throws -> Reply<Response> {
        try Self.decode(type, try await send(method, path, data: nil, contentType: "application/json"))
    }

    /// Sends NumbatAPI's `body` as JSON and decodes the answer as `Response`.
    func call<Response: Decodable>(_ method: String, _ path: String, body: some Encodable, as type: Response.Type) async throws -> Reply<Response> {
        try Self.decode(type, try await send(method, path, data: try APICoding.encoder().encode(body), contentType: "application/json"))
    }

    /// Sends `body` as JSON, ignoring the answer's body.
    func send(_ method: String, _ path: String, body: some Encodable) async throws {
        _ = try await send(method, path, data: try APICoding.encoder().encode(body), contentType: "application/json")
    }

    /// Sends a request without a body, ignoring the answer's body.
    func send(_ method: String, _ path: String) async throws {
        _ = try await send(method, path, data: nil, contentType: "application/json")
    }

    static func decode<Response: Decodable>(_ type: Response.Type, _ data: Data) throws -> Reply<Response> {
        do {
            return Reply(value: try APICoding.decoder().decode(type, from: data), data: data)
        } catch {
            throw Failure(description: "the server's answer is not what this numbat expects (\(error)); is the server another version?")
        }
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
            if let refusal = try? JSONDecoder().decode(ErrorResponse.self, from: data) {
                throw Failure(description: "\(refusal.error.message) (\(status) \(refusal.error.code))")
            }
            throw Failure(description: "the server answered \(status)")
        }
        return data
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

/// Prints the server's JSON, pretty, whatever its shape (fields this numbat does not know too).
func printJSON(_ data: Data) throws {
    let object = try JSONSerialization.jsonObject(with: data)
    let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: pretty, as: UTF8.self))
}

/// Prints a NumbatAPI value as JSON, keys sorted.
func printJSON(encoding value: some Encodable) throws {
    let encoder = APICoding.encoder()
    encoder.outputFormatting.insert(.prettyPrinted)
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Runs a client command, turning failures into one line on stderr and exit code 1.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as APIClient.Failure {
        FileHandle.standardError.write(Data("numbat: \(failure)\n".utf8))
        throw ExitCode.failure
    } catch let refusal as NumbatError {
        // A value NumbatAPI refuses before sending (a host that is not address:port).
        FileHandle.standardError.write(Data("numbat: \(refusal.message)\n".utf8))
        throw ExitCode.failure
    }
}
