@testable import ErlangDist
import Testing

/// Runs `body` and expects it to throw a `DistributionError` that `matches` accepts, recording
/// what it got otherwise: no error, another error type, or a case `matches` refuses.
func expectDistributionError<T>(_ body: () throws -> T,
                                sourceLocation: SourceLocation = #_sourceLocation,
                                _ matches: (DistributionError) -> Bool)
{
    do {
        _ = try body()
        Issue.record("expected a DistributionError", sourceLocation: sourceLocation)
    } catch let error as DistributionError {
        #expect(matches(error), "got \(error)", sourceLocation: sourceLocation)
        #expect(!error.description.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a DistributionError, got \(error)", sourceLocation: sourceLocation)
    }
}
