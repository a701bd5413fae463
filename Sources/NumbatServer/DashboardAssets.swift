import Foundation
import Hummingbird
import NIOCore
import NumbatServices

/// The web dashboard: plain HTML, CSS and ES modules shipped as resources and served by
/// `numbat serve` itself at `/dashboard/` (no build step). Only the files of the resource
/// directory are served, from memory; the page holds no data, so it needs no token: the data
/// comes from the API with the token the user signs in with.
enum DashboardAssets {
    struct Asset {
        var data: ByteBuffer
        var contentType: String
    }

    /// Relative path (`index.html`, `js/app.js`) to its bytes, read once.
    static let files: [String: Asset] = {
        guard let root = Bundle.module.url(forResource: "dashboard", withExtension: nil) else { return [:] }
        var files: [String: Asset] = [:]
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true, let data = try? Data(contentsOf: url) else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))
            files[relative] = Asset(data: ByteBuffer(bytes: data), contentType: contentType(of: url.pathExtension))
        }
        return files
    }()

    static func contentType(of pathExtension: String) -> String {
        switch pathExtension {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }

    static func addRoutes(to router: Router<NumbatRequestContext>) {
        router.get("/") { _, _ in
            Response(status: .found, headers: [.location: "/dashboard/"])
        }
        // The router takes `/dashboard` and `/dashboard/` for one path: the page names its files
        // absolutely, so both work.
        router.get("dashboard") { _, _ in try response(for: "index.html") }
        router.get("dashboard/**") { _, context in
            try response(for: context.parameters.getCatchAll().joined(separator: "/"))
        }
    }

    static func response(for path: String) throws -> Response {
        guard let asset = files[path.isEmpty ? "index.html" : path] else {
            throw HTTPError(.notFound, message: "no dashboard file \(path.prefix(100))")
        }
        var headers: HTTPFields = [.contentType: asset.contentType, .cacheControl: "no-cache"]
        // Scripts and connections only from this server; no inline script, no framing.
        headers[.contentSecurityPolicy] = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.data))
    }
}
