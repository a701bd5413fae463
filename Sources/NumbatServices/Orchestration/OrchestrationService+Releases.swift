import Foundation
import Hummingbird
import NumbatCore

/// Release uploads (seed listing 8): a JSON body with the archive in base64, or the archive
/// itself as the body (`application/gzip`, `application/octet-stream`) with the fields in the
/// query, streamed to disk so archives of any size upload in constant memory.
extension OrchestrationService {
    struct ReleaseFields: StrictJSONBody {
        var name: String
        var description: String?
        var startCmd: String
        var stopCmd: String
        var cookie: String
        var nodeNameTemplates: [String]?
        var environment: [String: String]?
        var release: String?
        static let allowedFields: Set<String> = ["name", "description", "start_cmd", "stop_cmd", "cookie", "node_name_templates", "environment", "release"]

        enum CodingKeys: String, CodingKey {
            case name, description, cookie, environment, release
            case startCmd = "start_cmd"
            case stopCmd = "stop_cmd"
            case nodeNameTemplates = "node_name_templates"
        }
    }

    /// The largest archive taken (a release with its ERTS is tens of MB).
    static let maximumArchive = 2 << 30
    /// The largest JSON upload: base64 needs the whole body in memory.
    static let maximumJSONUpload = 256 << 20

    func uploadRelease(_ request: Request, context: NumbatRequestContext) async throws -> ReleaseView {
        try context.requireAdmin()
        let id = UUID()
        let file = releaseDirectory.appendingPathComponent("\(id.uuidString.lowercased()).tar.gz")
        let partial = file.appendingPathExtension("part")
        let fields: ReleaseFields
        let type = request.headers[.contentType] ?? ""
        do {
            if type.hasPrefix("application/json") {
                let buffer: ByteBuffer
                do { buffer = try await request.body.collect(upTo: Self.maximumJSONUpload) } catch {
                    throw NumbatError(.payloadTooLarge, "body_too_large", "a JSON upload is limited to \(Self.maximumJSONUpload >> 20) MiB; send larger archives as the body (Content-Type: application/gzip)")
                }
                let data = Data(buffer.readableBytesView)
                guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                    throw NumbatError.badRequest("invalid_json", "the body is not a JSON object")
                }
                if let unknown = Set(object.keys).subtracting(ReleaseFields.allowedFields).sorted().first {
                    throw NumbatError.badRequest("unknown_field", "unknown field '\(unknown)'")
                }
                do { fields = try JSONDecoder().decode(ReleaseFields.self, from: data) } catch {
                    throw NumbatError.badRequest("invalid_field", "the release fields are incomplete: name, start_cmd, stop_cmd and cookie are required (\(error))")
                }
                guard let encoded = fields.release, let archive = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters), !archive.isEmpty else {
                    throw NumbatError.badRequest("invalid_release", "'release' must hold the archive in base64")
                }
                guard FileManager.default.createFile(atPath: partial.path, contents: archive, attributes: [.posixPermissions: 0o600]) else {
                    throw NumbatError(.internalError, "storage_failed", "cannot write the archive")
                }
            } else if type.hasPrefix("application/gzip") || type.hasPrefix("application/octet-stream") || type.hasPrefix("application/x-gzip") {
                let query = request.uri.queryParameters
                // Form encoding (what browsers' URLSearchParams and curl --data-urlencode send)
                // writes spaces as '+'; a literal plus arrives as %2B.
                func field(_ name: String) -> String? {
                    request.uri.query.flatMap { Self.formField(name, in: $0) } ?? query[Substring(name)].map(String.init)
                }
                guard let name = field("name"), let start = field("start_cmd"), let stop = field("stop_cmd"), let cookie = field("cookie") else {
                    throw NumbatError.badRequest("invalid_field", "a raw upload takes name, start_cmd, stop_cmd and cookie in the query")
                }
                let templates = field("node_name_templates").map { $0.split(separator: ",").map(String.init) }
                fields = ReleaseFields(name: name, description: field("description"), startCmd: start, stopCmd: stop, cookie: cookie,
                                       nodeNameTemplates: templates, environment: nil, release: nil)
                try await Self.stream(request.body, to: partial)
            } else {
                throw NumbatError.badRequest("invalid_content_type", "upload a release as application/json (base64 in 'release') or as the raw archive (application/gzip)")
            }
            guard !fields.name.trimmingCharacters(in: .whitespaces).isEmpty, !fields.startCmd.isEmpty, !fields.stopCmd.isEmpty, !fields.cookie.isEmpty else {
                throw NumbatError.badRequest("invalid_field", "name, start_cmd, stop_cmd and cookie must not be empty")
            }
            let templates = fields.nodeNameTemplates ?? []
            let inspection: ReleaseArchive.Inspection
            do {
                inspection = try ReleaseArchive.inspect(file: partial, templates: templates)
            } catch let error as ReleaseArchive.Failure {
                throw NumbatError(.unprocessable, "invalid_release", error.description)
            }
            let record = ReleaseRecord(id: id, name: fields.name, description: fields.description ?? "", startCommand: fields.startCmd,
                                       stopCommand: fields.stopCmd, nodeNameTemplates: templates, environment: fields.environment ?? [:],
                                       templates: inspection.templates, releaseName: inspection.name, version: inspection.version,
                                       includesERTS: inspection.includesERTS, size: inspection.size, sha256: inspection.sha256,
                                       state: "UPLOADED", createdAt: Date())
            try FileManager.default.moveItem(at: partial, to: file)
            try await records.save(record)
            try await records.setSecrets(of: ReleaseRecord.self, id: id, ["cookie": fields.cookie])
            logger.info("release uploaded", metadata: ["release": "\(record.name)", "size": "\(record.size)"])
            return ReleaseView(record)
        } catch {
            // Nothing half-written is kept: no partial file, no record.
            try? FileManager.default.removeItem(at: partial)
            try? FileManager.default.removeItem(at: file)
            _ = try? await records.delete(ReleaseRecord.self, id: id)
            throw error
        }
    }

    private static func stream(_ body: RequestBody, to file: URL) async throws {
        guard FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: file.path) else {
            throw NumbatError(.internalError, "storage_failed", "cannot write the archive")
        }
        defer { try? handle.close() }
        var written = 0
        for try await chunk in body {
            written += chunk.readableBytes
            guard written <= maximumArchive else {
                throw NumbatError(.payloadTooLarge, "body_too_large", "a release archive is limited to \(maximumArchive >> 30) GiB")
            }
            try handle.write(contentsOf: chunk.readableBytesView)
        }
    }

    /// A release as the API shows it: never its cookie.
    struct ReleaseView: ResponseEncodable {
        var uuid: UUID
        var name: String
        var description: String
        var state: String
        var path: String
        var templates: [String]
        var environment: [String: String]
        var startCmd: String
        var stopCmd: String
        var cookie = "********"
        var release: String
        var version: String
        var includesERTS: Bool
        var size: Int
        var sha256: String

        init(_ record: ReleaseRecord) {
            uuid = record.id
            name = record.name
            description = record.description
            state = record.state
            path = "releases/\(record.id.uuidString.lowercased()).tar.gz"
            templates = record.nodeNameTemplates
            environment = record.environment
            startCmd = record.startCommand
            stopCmd = record.stopCommand
            release = record.releaseName
            version = record.version
            includesERTS = record.includesERTS
            size = record.size
            sha256 = record.sha256
        }

        enum CodingKeys: String, CodingKey {
            case uuid, name, description, state, path, templates, environment, cookie, release, version, size, sha256
            case startCmd = "start_cmd"
            case stopCmd = "stop_cmd"
            case includesERTS = "includes_erts"
        }
    }

    /// A field of an `application/x-www-form-urlencoded` query: '+' is a space, then %XX decoded.
    static func formField(_ name: String, in query: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[0])
            guard key == name else { continue }
            let value = parts.count > 1 ? String(parts[1]) : ""
            return value.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? value
        }
        return nil
    }
}
