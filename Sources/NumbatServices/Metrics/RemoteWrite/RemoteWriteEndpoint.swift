import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging

/// The I/O shell around one receiver's `RemoteWriteQueue`: a task that does what the queue
/// says (POST a batch, wait, sleep until samples come) over one URLSession (keep-alive across
/// requests), and reports each result back. Everything it decides, it asks the queue.
actor RemoteWriteEndpoint {
    let settings: RemoteWriteSettings
    private let logger: Logger
    private var queue: RemoteWriteQueue
    private let session: URLSession
    private let challenges = RemoteWriteChallengeRefusal()
    private var loop: Task<Void, Never>?
    /// The loop's wait, resumed by `wake` (samples came, the server stops) or its deadline.
    private var waiter: CheckedContinuation<Void, Never>?
    private var woken = false
    private var stopping = false
    private(set) var lastError: String?
    private(set) var lastErrorAt: Date?
    private(set) var lastSuccessAt: Date?
    /// Whether the receiver is failing (or refusing) now: said once, and its end.
    private var failing = false

    init(settings: RemoteWriteSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        queue = RemoteWriteQueue(settings: settings.queue)
        let configuration = URLSessionConfiguration.ephemeral
        let seconds = Double(settings.timeout.components.seconds) + Double(settings.timeout.components.attoseconds) / 1e18
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = seconds
        configuration.httpMaximumConnectionsPerHost = 1
        session = URLSession(configuration: configuration, delegate: challenges, delegateQueue: nil)
    }

    func start() {
        guard loop == nil else { return }
        loop = Task { await self.run() }
    }

    /// Sends what is queued while the receiver takes it, for at most `drainWithin`, then stops.
    /// A receiver failing or slower than that keeps the rest (Numbat's own history has it).
    func stop(drainWithin limit: Duration = .seconds(5)) async {
        stopping = true
        let running = loop
        let deadline = Task { [weak self] in
            guard (try? await Task.sleep(for: limit)) != nil else { return }
            running?.cancel()
            await self?.wake()
        }
        wake()
        await running?.value
        deadline.cancel()
        loop = nil
        session.invalidateAndCancel()
    }

    func enqueue(_ samples: [RemoteWriteSample]) {
        let dropped = queue.enqueue(samples, now: .now)
        if dropped > 0, queue.counters.droppedSamples == dropped {
            // The first drop is said; the counters tell the rest.
            logger.warning("remote write queue full: dropping the oldest samples", metadata: [
                "receiver": "\(settings.displayURL)", "capacity": "\(settings.queue.capacity)"])
        }
        wake()
    }

    /// What the status route and the server's own metrics show.
    func status() -> RemoteWriteStatus {
        RemoteWriteStatus(url: settings.displayURL, authentication: settings.authentication.kind,
                          capacity: settings.queue.capacity, batchSize: settings.queue.batchSize,
                          queued: queue.count, counters: queue.counters, lastError: lastError, lastErrorAt: lastErrorAt,
                          lastSuccessAt: lastSuccessAt,
                          retryInSeconds: queue.backingOffUntil.map { max(0, Self.seconds($0 - .now)) })
    }

    private func run() async {
        while !Task.isCancelled {
            switch queue.next(now: .now, flushing: stopping) {
            case .send(let batch):
                let (outcome, retryAfter) = await send(batch)
                queue.finish(outcome, now: .now, retryAfter: retryAfter)
            case .wait(let deadline):
                // Stopping: only a backoff waits now; the receiver is failing, give up.
                if stopping { return }
                await sleep(until: deadline)
            case .idle:
                if stopping { return }
                await sleep(until: nil)
            }
        }
    }

    private func wake() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            woken = true
        }
    }

    /// Sleeps until `deadline` (nil: none), or until `wake`.
    private func sleep(until deadline: ContinuousClock.Instant?) async {
        if woken || stopping || Task.isCancelled {
            woken = false
            return
        }
        let timer = deadline.map { deadline in
            Task { [weak self] in
                guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                await self?.wake()
            }
        }
        await withCheckedContinuation { waiter = $0 }
        woken = false
        timer?.cancel()
    }

    /// One POST of a batch; the outcome as the queue needs it, and the wait the receiver asked
    /// for (`Retry-After` on a 429 or 503).
    private func send(_ batch: [RemoteWriteSample]) async -> (RemoteWriteQueue.Outcome, retryAfter: Duration?) {
        var request = URLRequest(url: settings.url)
        request.httpMethod = "POST"
        request.httpBody = Data(RemoteWriteRequest.body(batch))
        for (name, value) in RemoteWriteRequest.headers {
            request.setValue(value, forHTTPHeaderField: name)
        }
        if let authorization = settings.authentication.header {
            request.setValue(authorization, forHTTPHeaderField: "Authorization")
        }
        let outcome: RemoteWriteQueue.Outcome
        let problem: String?
        var retryAfter: Duration?
        _ = challenges.takeChallenge()
        do {
            let (data, response) = try await session.data(for: request)
            let http = response as? HTTPURLResponse
            let status = http?.statusCode ?? 0
            outcome = RemoteWriteRequest.outcome(status: status)
            retryAfter = RemoteWriteRetryAfter.wait(status: status, header: http?.value(forHTTPHeaderField: "Retry-After"), now: Date())
            // The receiver's words, without any credential it echoes.
            problem = outcome == .delivered ? nil
                : "HTTP \(status): " + settings.authentication.redact(String(decoding: data.prefix(300), as: UTF8.self))
                    .trimmingCharacters(in: .whitespacesAndNewlines)
        } catch where challenges.takeChallenge() {
            outcome = .rejected
            problem = "HTTP 401: the receiver refused the credentials (it asked for authentication)"
        } catch {
            outcome = .retryable
            problem = "cannot reach the receiver: \(error.localizedDescription)"
        }
        record(outcome, problem: problem, samples: batch.count)
        return (outcome, retryAfter)
    }

    private func record(_ outcome: RemoteWriteQueue.Outcome, problem: String?, samples: Int) {
        guard let problem else {
            lastSuccessAt = Date()
            if failing {
                failing = false
                logger.notice("remote write works again", metadata: ["receiver": "\(settings.displayURL)"])
            }
            return
        }
        lastError = problem
        lastErrorAt = Date()
        if outcome == .rejected {
            // Said once until a batch goes through again (refused credentials refuse every batch).
            if !failing {
                failing = true
                logger.error("remote write receiver refuses batches; dropping them (counted)", metadata: [
                    "receiver": "\(settings.displayURL)", "samples": "\(samples)", "error": "\(problem)"])
            }
        } else if !failing {
            // Said once per outage, not on every retry.
            failing = true
            logger.error("remote write failing; retrying with backoff", metadata: ["receiver": "\(settings.displayURL)", "error": "\(problem)"])
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
