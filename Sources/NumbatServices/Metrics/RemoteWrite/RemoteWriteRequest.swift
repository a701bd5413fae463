/// What goes on the wire for one batch, as the remote-write 1.0 specification has it: the
/// `WriteRequest` in protobuf, snappy block-compressed, with these headers. Pure.
public enum RemoteWriteRequest {
    public static let headers: [(String, String)] = [
        ("Content-Encoding", "snappy"),
        ("Content-Type", "application/x-protobuf"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ("User-Agent", "numbat-remote-write"),
    ]

    public static func body(_ batch: [RemoteWriteSample]) -> [UInt8] {
        Snappy.compress(RemoteWriteProtobuf.encode(batch))
    }

    /// 2xx delivered; 429 and 5xx (and no answer at all) tried again; any other status refused.
    public static func outcome(status: Int) -> RemoteWriteQueue.Outcome {
        switch status {
        case 200..<300: .delivered
        case 429, 500..<600: .retryable
        case 400..<500: .rejected
        // 1xx/3xx: not an answer remote write expects (a redirect is not followed for a POST
        // body); treated as the receiver not being there yet.
        default: .retryable
        }
    }
}
