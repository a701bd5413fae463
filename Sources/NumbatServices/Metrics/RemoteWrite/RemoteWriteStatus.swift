import Foundation
import NumbatAPI

/// One receiver's state at a moment: `RemoteWriteEndpoint.status()`.
struct RemoteWriteStatus: Sendable {
    var url: String
    var authentication: String
    var capacity: Int
    var batchSize: Int
    var queued: Int
    var counters: RemoteWriteQueue.Counters
    var lastError: String?
    var lastErrorAt: Date?
    var lastSuccessAt: Date?
    var retryInSeconds: Double?

    var response: RemoteWriteStatusResponse.Receiver {
        .init(url: url, authentication: authentication, queueCapacity: capacity, batchSize: batchSize, queuedSamples: queued,
              sentSamples: counters.sentSamples, sentBatches: counters.sentBatches, failedBatches: counters.failedBatches,
              droppedSamples: counters.droppedSamples, rejectedSamples: counters.rejectedSamples, lastError: lastError,
              lastErrorAt: lastErrorAt, lastSuccessAt: lastSuccessAt, retryInSeconds: retryInSeconds)
    }
}
