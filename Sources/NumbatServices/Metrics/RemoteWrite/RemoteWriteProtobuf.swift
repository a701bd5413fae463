/// The protobuf encoding of `prometheus.WriteRequest` (prometheus/prompb/remote.proto and
/// types.proto), the three messages remote write needs, written by hand rather than generated
/// (no protobuf dependency):
///
///     message WriteRequest { repeated TimeSeries timeseries = 1; }
///     message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
///     message Label        { string name = 1; string value = 2; }
///     message Sample       { double value = 1; int64 timestamp = 2; }
///
/// Samples of one series in a batch go in one `TimeSeries`, in the order they were queued
/// (oldest first, as receivers want them). Pure.
public enum RemoteWriteProtobuf {
    /// Wire types: varint, 64-bit, length-delimited.
    static let varint: UInt8 = 0, fixed64: UInt8 = 1, lengthDelimited: UInt8 = 2

    /// The series of a batch, each with its samples in order, series in order of first appearance.
    public static func group(_ samples: some Collection<RemoteWriteSample>) -> [(series: RemoteWriteSeries, samples: [(timestamp: Int64, value: Double)])] {
        var index: [ObjectIdentifier: Int] = [:]
        var groups: [(series: RemoteWriteSeries, samples: [(timestamp: Int64, value: Double)])] = []
        for sample in samples {
            let key = ObjectIdentifier(sample.series)
            if let at = index[key] {
                groups[at].samples.append((sample.timestamp, sample.value))
            } else {
                index[key] = groups.count
                groups.append((sample.series, [(sample.timestamp, sample.value)]))
            }
        }
        return groups
    }

    /// The encoded `WriteRequest` of these samples.
    public static func encode(_ samples: some Collection<RemoteWriteSample>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(samples.count * 24 + 64)
        for group in group(samples) {
            var labelsLength = 0
            for label in group.series.labels { labelsLength += fieldLength(messageLength: labelLength(label)) }
            let sampleLength = sampleLength
            var seriesLength = labelsLength
            for sample in group.samples { seriesLength += fieldLength(messageLength: sampleLength(sample.timestamp)) }
            appendTag(1, lengthDelimited, to: &output)
            appendVarint(UInt64(seriesLength), to: &output)
            for label in group.series.labels {
                appendTag(1, lengthDelimited, to: &output)
                appendVarint(UInt64(labelLength(label)), to: &output)
                appendString(1, label.name, to: &output)
                appendString(2, label.value, to: &output)
            }
            for sample in group.samples {
                appendTag(2, lengthDelimited, to: &output)
                appendVarint(UInt64(sampleLength(sample.timestamp)), to: &output)
                // The value always (its 9 bytes are fixed); the timestamp left out at 0, proto3's
                // default, which receivers read back as 0.
                appendTag(1, fixed64, to: &output)
                var bits = sample.value.bitPattern
                for _ in 0..<8 {
                    output.append(UInt8(truncatingIfNeeded: bits))
                    bits >>= 8
                }
                if sample.timestamp != 0 {
                    appendTag(2, varint, to: &output)
                    appendVarint(UInt64(bitPattern: sample.timestamp), to: &output)
                }
            }
        }
        return output
    }

    static func labelLength(_ label: RemoteWriteLabel) -> Int {
        stringFieldLength(label.name) + stringFieldLength(label.value)
    }

    static func sampleLength(_ timestamp: Int64) -> Int {
        // The value field's tag and its 8 bytes, then the timestamp unless 0.
        9 + (timestamp != 0 ? 1 + varintLength(UInt64(bitPattern: timestamp)) : 0)
    }

    static func stringFieldLength(_ text: String) -> Int {
        text.isEmpty ? 0 : fieldLength(messageLength: text.utf8.count)
    }

    /// A length-delimited field with a one-byte tag: tag, length, body.
    static func fieldLength(messageLength: Int) -> Int {
        1 + varintLength(UInt64(messageLength)) + messageLength
    }

    static func varintLength(_ value: UInt64) -> Int {
        var value = value
        var length = 1
        while value >= 0x80 {
            value >>= 7
            length += 1
        }
        return length
    }

    static func appendTag(_ field: UInt8, _ wireType: UInt8, to output: inout [UInt8]) {
        output.append(field << 3 | wireType)
    }

    static func appendString(_ field: UInt8, _ text: String, to output: inout [UInt8]) {
        guard !text.isEmpty else { return }
        appendTag(field, lengthDelimited, to: &output)
        appendVarint(UInt64(text.utf8.count), to: &output)
        output.append(contentsOf: text.utf8)
    }

    static func appendVarint(_ value: UInt64, to output: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            output.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        output.append(UInt8(value))
    }
}
