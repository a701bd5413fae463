import Hummingbird
import Logging
import NumbatCore
import NumbatServices

/// Makes every failure a JSON error document: Hummingbird's own errors (no route, bad path
/// parameter, body too large) and unexpected ones, which are logged and reported as 500
/// without details that could carry secrets.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = NumbatRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            // The router's 404 for a documented path called with an undocumented method.
            if let response = try DocumentedRoutes.shared.methodNotAllowed(request, context: context) { return response }
            throw Self.numbatError(error, request: request, context: context)
        } catch {
            throw Self.numbatError(error, request: request, context: context)
        }
    }

    /// Any failure as the `NumbatError` the caller is shown.
    static func numbatError(_ error: any Error, request: Request, context: Context) -> NumbatError {
        switch error {
        case let error as NumbatError:
            return error
        case let error as HTTPError:
            return NumbatError(kind(error.status), code(error.status), error.body ?? message(error.status, request))
        case let error as any HTTPResponseError:
            return NumbatError(kind(error.status), code(error.status), message(error.status, request))
        default:
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return NumbatError(.internalError, "internal_error", "the server failed to handle the request; its log has the details")
        }
    }

    static func kind(_ status: HTTPResponse.Status) -> NumbatError.Kind {
        switch status.code {
        case 401: .unauthorized
        case 403: .forbidden
        case 404, 405: .notFound
        case 409: .conflict
        case 413: .payloadTooLarge
        case 422: .unprocessable
        case 400..<500: .badRequest
        default: .internalError
        }
    }

    static func code(_ status: HTTPResponse.Status) -> String {
        status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
    }

    static func message(_ status: HTTPResponse.Status, _ request: Request) -> String {
        status.code == 404 ? "no such resource: \(request.method) \(request.uri.path)" : status.reasonPhrase
    }
}
