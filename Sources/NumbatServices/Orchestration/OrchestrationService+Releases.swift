import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// Release uploads (seed listing 8): a JSON body with the archive in base64, or the archive
/// itself as the body (`application/gzip`, `application/octet-stream`) with the fields in the
/// query, streamed to disk so archives of any size upload in constant memory.
extension OrchestrationService {
    /// The largest archive taken (a release with its ERTS is tens of MB).
    static let maximumArchive = 2 << 30
    /// The largest JSON upload: base64 needs the whole body in memory.
    static let maximumJSONUpload = 256 << 20

    func uploadRelease(_ request: Request, context: NumbatRequestContext) async throws -> ReleaseResponse {
        try context.requireAdmin()
        let id = UUID()
        let file = releaseDirectory.appendingPathComponent("\(id.uuidString.lowercased()).tar.gz")
        let partial = file.appendingPathExtension("part")
        let fields: UploadReleaseRequest
        let type = request.headers[.contentType] ?? ""
        do {
            if type.hasPrefix("application/json") {
                let buffer: ByteBuffer
                do { buffer = try await request.body.collect(upTo: Self.maximumJSONUpload) } catch {
                    throw NumbatError(.payloadTooLarge, "body_too_large", "a JSON upload is limited to \(Self.maximumJSONUpload >> 20) MiB; send larger archives as the body (Content-Type: application/gzip)")
                }
                fields = try Self.decodeBody(UploadReleaseRequest.self, from: Data(buffer.readableBytesView))
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
                fields = try UploadReleaseRequest(query: field)
                try await Self.stream(request.body, to: partial)
            } else {
                throw NumbatError.badRequest("invalid_content_type", "upload a release as application/json (base64 in 'release') or as the raw archive (application/gzip)")
            }
            guard !fields.name.isBlank, !fields.startCmd.isEmpty, !fields.stopCmd.isEmpty, !fields.cookie.isEmpty else {
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
            return record.response
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
