import Foundation

/// `GET /api/metrics/remote-write`: each remote-write receiver's queue and counters (`numbat
/// metrics remote-write` prints it). Credentials are never in it: only which kind is used.
public struct RemoteWriteStatusResponse: Codable, Sendable, Equatable {
    public struct Receiver: Codable, Sendable, Equatable {
        /// Scheme, host, port and path (no query, no credentials).
        public var url: String
        /// none, basic or bearer.
        public var authentication: String
        public var queueCapacity: Int
        public var batchSize: Int
        /// Samples held now, the batch being sent included.
        public var queuedSamples: Int
        public var sentSamples: Int
        public var sentBatches: Int
        /// Requests that failed (network error, 5xx, 429: retried; other 4xx: dropped).
        public var failedBatches: Int
        /// Samples dropped because the queue was full.
        public var droppedSamples: Int
        /// Samples the receiver refused (4xx), not retried.
        public var rejectedSamples: Int
        public var lastError: String?
        public var lastErrorAt: Date?
        public var lastSuccessAt: Date?
        /// Seconds until the next retry, while backing off after a failure.
        public var retryInSeconds: Double?

        public init(url: String, authentication: String, queueCapacity: Int, batchSize: Int, queuedSamples: Int, sentSamples: Int,
                    sentBatches: Int, failedBatches: Int, droppedSamples: Int, rejectedSamples: Int, lastError: String?,
                    lastErrorAt: Date?, lastSuccessAt: Date?, retryInSeconds: Double?)
        {
            self.url = url
            self.authentication = authentication
            self.queueCapacity = queueCapacity
            self.batchSize = batchSize
            self.queuedSamples = queuedSamples
            self.sentSamples = sentSamples
            self.sentBatches = sentBatches
            self.failedBatches = failedBatches
            self.droppedSamples = droppedSamples
            self.rejectedSamples = rejectedSamples
            self.lastError = lastError
            self.lastErrorAt = lastErrorAt
            self.lastSuccessAt = lastSuccessAt
            self.retryInSeconds = retryInSeconds
        }

        enum CodingKeys: String, CodingKey {
            case url, authentication
            case queueCapacity = "queue_capacity"
            case batchSize = "batch_size"
            case queuedSamples = "queued_samples"
            case sentSamples = "sent_samples"
            case sentBatches = "sent_batches"
            case failedBatches = "failed_batches"
            case droppedSamples = "dropped_samples"
            case rejectedSamples = "rejected_samples"
            case lastError = "last_error"
            case lastErrorAt = "last_error_at"
            case lastSuccessAt = "last_success_at"
            case retryInSeconds = "retry_in_seconds"
        }
    }

    /// Empty when remote write is not configured (the local history is the default).
    public var receivers: [Receiver]

    public init(receivers: [Receiver]) {
        self.receivers = receivers
    }
}
