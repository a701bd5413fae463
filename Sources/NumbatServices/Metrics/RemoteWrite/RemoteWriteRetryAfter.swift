import Foundation

/// The wait a receiver asks for with `Retry-After` (RFC 9110 §10.2.3) on a 429 (too many
/// requests) or a 503 (unavailable): delta-seconds ("120") or an HTTP date ("Fri, 04 Dec 2026
/// 23:10:00 GMT", and the two obsolete forms a recipient must also read). Remote write's
/// specification lets senders use it for the next retry; the queue honours it within bounds
/// (`RemoteWriteQueue.finish`). Pure: `now` is given.
public enum RemoteWriteRetryAfter {
    /// The statuses whose `Retry-After` says when to come back (on a 3xx it would name a
    /// redirect's wait, which remote write does not follow).
    public static let statuses: Set<Int> = [429, 503]

    /// The wait `header` asks for after an answer with `status`; nil without a usable one (no
    /// header, another status, a value that is neither form): the queue's own backoff then. A
    /// date in the past is a wait of zero.
    public static func wait(status: Int, header: String?, now: Date) -> Duration? {
        guard statuses.contains(status), let header else { return nil }
        let value = header.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { return nil }
        if value.allSatisfy(\.isASCII), value.allSatisfy(\.isNumber) {
            // More than a year is as good as a year (the queue caps it far lower); no overflow.
            guard value.count <= 9, let seconds = Int64(value) else { return .seconds(365 * 86_400) }
            return .seconds(min(seconds, 365 * 86_400))
        }
        guard let date = date(value) else { return nil }
        let seconds = date.timeIntervalSince(now)
        return seconds <= 0 ? .zero : .milliseconds(Int64((min(seconds, 365 * 86_400) * 1000).rounded()))
    }

    /// An HTTP date: IMF-fixdate, RFC 850's or asctime's form, always in GMT.
    static func date(_ value: String) -> Date? {
        // asctime pads a one-digit day with a space ("Nov  6"): one space between words.
        let words = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        for format in ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            formatter.isLenient = false
            if let date = formatter.date(from: words) { return date }
        }
        return nil
    }
}
