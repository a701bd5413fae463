import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOConcurrencyHelpers

/// Answers a receiver's authentication challenge (a 401 with `WWW-Authenticate`) by refusing
/// it, and remembers that it did. Numbat sends its credentials up front, so a challenge means
/// they were refused. Needed on Linux: swift-corelibs-foundation's URLSession, without a
/// delegate answering challenges, leaves such a request waiting forever
/// (swiftlang/swift-corelibs-foundation#5456); refused here, the request fails as cancelled,
/// and the endpoint reads it as the 401 it was.
final class RemoteWriteChallengeRefusal: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    private let challenged = NIOLockedValueBox(false)

    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void)
    {
        challenged.withLockedValue { $0 = true }
        completionHandler(.cancelAuthenticationChallenge, nil)
    }

    /// Whether a challenge came since the last call (one request at a time per session).
    func takeChallenge() -> Bool {
        challenged.withLockedValue { was in
            defer { was = false }
            return was
        }
    }
}
