import CompressNIO
import Crypto
import Foundation
import NIOCore

/// Checks that an uploaded file is a gzip'd Erlang release and reads what deployment needs
/// from it, streaming: the archive is never held in memory, whatever its size.
struct ReleaseArchive {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// What the archive holds.
    struct Inspection: Sendable {
        /// From `releases/<Vsn>/<Name>.rel`.
        var name: String
        var version: String
        /// Whether the archive carries its own ERTS (`erts-*/`), or needs Erlang on the host.
        var includesERTS: Bool
        /// The node-name templates, path -> content, as they are in the archive.
        var templates: [String: String]
        var entries: Int
        var size: Int
        var sha256: String
    }

    /// The largest template file taken (vm.args and sys.config are a few KB).
    static let templateLimit = 1 << 20

    static func inspect(file: URL, templates: [String]) throws -> Inspection {
        guard let handle = FileHandle(forReadingAtPath: file.path) else { throw Failure(description: "the uploaded archive cannot be read") }
        defer { try? handle.close() }
        return try inspect(templates: templates) { handle.readData(ofLength: 64 * 1024) }
    }

    /// The check itself, over the archive's bytes as `read` hands them over (empty at the end):
    /// pure apart from `read`, so it runs directly on bytes (the ReleaseArchiveFuzz target feeds
    /// it chunks of every size).
    static func inspect(templates: [String], read: () throws -> Data) throws -> Inspection {
        let wanted = Set(try templates.map { path -> String in
            do { return try TarStream.normalize(path) } catch { throw Failure(description: "the template path \(path) is not inside the archive") }
        })
        var tar = TarStream(contentLimit: templateLimit) { name in wanted.contains(name) || name.hasSuffix(".rel") }
        var gzip: GzipStream
        do { gzip = try GzipStream() } catch let error as GzipStream.Failure { throw Failure(description: error.description) }
        var hash = SHA256()
        var size = 0
        var entries: [TarStream.Entry] = []
        var first = true
        // The whole file is inflated, also past the tar's end: a damaged or truncated gzip
        // stream, or other data after it, makes `tar -xzf` fail on the host (GzipStream).
        do {
            while case let chunk = try read(), !chunk.isEmpty {
                if first {
                    guard chunk.count >= 2, chunk[chunk.startIndex] == 0x1f, chunk[chunk.startIndex + 1] == 0x8b else {
                        throw Failure(description: "the file is not gzip-compressed (a release archive is a .tar.gz, as `rebar3 tar` or `mix release` make it)")
                    }
                    first = false
                }
                hash.update(data: chunk)
                size += chunk.count
                try gzip.feed(chunk) { inflated in
                    if !tar.ended { entries += try tar.feed(inflated) }
                }
            }
            if !first { try gzip.finish() }
        } catch let error as GzipStream.Failure {
            throw Failure(description: error.description)
        } catch let error as TarStream.Failure {
            throw Failure(description: error.description)
        }
        guard !first else { throw Failure(description: "the uploaded archive is empty") }
        guard tar.ended else { throw Failure(description: "the archive is truncated: it ends before the tar archive does") }
        do { try tar.finish() } catch let error as TarStream.Failure { throw Failure(description: error.description) }
        return try describe(entries: entries, templates: templates, size: size,
                            sha256: hash.finalize().map { String(format: "%02x", $0) }.joined())
    }

    private static func describe(entries: [TarStream.Entry], templates: [String], size: Int, sha256: String) throws -> Inspection {
        guard !entries.isEmpty else { throw Failure(description: "the archive is empty") }
        // releases/<Vsn>/<Name>.rel names the release and its version.
        let rels = entries.filter { entry in
            let parts = entry.name.split(separator: "/")
            return entry.kind == .file && parts.count == 3 && parts[0] == "releases" && parts[2].hasSuffix(".rel")
        }
        guard let rel = rels.first else {
            throw Failure(description: "not an Erlang release: the archive has no releases/<version>/<name>.rel (build it with `rebar3 tar`, `mix release` or systools:make_tar)")
        }
        let parts = rel.name.split(separator: "/")
        let version = String(parts[1])
        let name = String(parts[2].dropLast(4))
        guard entries.contains(where: { $0.name == "releases/\(version)/start.boot" }) else {
            throw Failure(description: "not a bootable Erlang release: releases/\(version)/start.boot is missing")
        }
        guard entries.contains(where: { $0.name.hasPrefix("lib/") && $0.name.hasSuffix(".app") }) else {
            throw Failure(description: "not an Erlang release: the archive has no lib/<app>/ebin/<app>.app")
        }
        var found: [String: String] = [:]
        for path in templates {
            let normalized = try TarStream.normalize(path)
            guard let entry = entries.first(where: { $0.name == normalized && $0.kind == .file }) else {
                let base = normalized.split(separator: "/").last.map(String.init) ?? normalized
                let alike = entries.filter { $0.kind == .file && $0.name.hasSuffix("/" + base) }.prefix(5).map(\.name)
                throw Failure(description: "the template \(path) is not in the archive" + (alike.isEmpty ? "" : "; files named \(base) in it: \(alike.joined(separator: ", "))"))
            }
            guard let content = entry.content else {
                throw Failure(description: "the template \(path) is larger than \(templateLimit / 1024) KiB")
            }
            guard let text = String(validating: content, as: UTF8.self) else {
                throw Failure(description: "the template \(path) is not UTF-8 text")
            }
            found[path] = text
        }
        return Inspection(name: name, version: version, includesERTS: entries.contains { $0.name.hasPrefix("erts-") },
                          templates: found, entries: entries.count, size: size, sha256: sha256)
    }
}
