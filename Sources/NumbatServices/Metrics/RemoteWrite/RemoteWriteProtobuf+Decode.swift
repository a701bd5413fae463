/// Reads a `prometheus.WriteRequest` back: what the tests check the encoder against, field by
/// field, and what a receiver would see. Unknown fields are skipped as protobuf says; malformed
/// input is refused with a reason.
extension RemoteWriteProtobuf {
    public struct DecodedSeries: Sendable, Equatable {
        public var labels: [RemoteWriteLabel]
        public var samples: [DecodedSample]
    }

    public struct DecodedSample: Sendable, Equatable {
        public var timestamp: Int64
        public var value: Double
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func decode(_ bytes: [UInt8]) throws -> [DecodedSeries] {
        var reader = Reader(bytes: bytes[...])
        var series: [DecodedSeries] = []
        while let (field, body) = try reader.nextField() {
            guard field == 1, case .bytes(let message) = body else { continue }
            series.append(try decodeSeries(message))
        }
        return series
    }

    private static func decodeSeries(_ bytes: ArraySlice<UInt8>) throws -> DecodedSeries {
        var reader = Reader(bytes: bytes)
        var series = DecodedSeries(labels: [], samples: [])
        while let (field, body) = try reader.nextField() {
            guard case .bytes(let message) = body else { continue }
            var inner = Reader(bytes: message)
            if field == 1 {
                var label = RemoteWriteLabel("", "")
                while let (labelField, labelBody) = try inner.nextField() {
                    guard case .bytes(let text) = labelBody else { continue }
                    guard let string = String(validating: text, as: UTF8.self) else { throw Failure(description: "a label is not UTF-8") }
                    if labelField == 1 { label.name = string } else if labelField == 2 { label.value = string }
                }
                series.labels.append(label)
            } else if field == 2 {
                var sample = DecodedSample(timestamp: 0, value: 0)
                while let (sampleField, sampleBody) = try inner.nextField() {
                    switch (sampleField, sampleBody) {
                    case (1, .fixed64(let bits)): sample.value = Double(bitPattern: bits)
                    case (2, .varint(let raw)): sample.timestamp = Int64(bitPattern: raw)
                    default: continue
                    }
                }
                series.samples.append(sample)
            }
        }
        return series
    }

    enum FieldBody {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    struct Reader {
        var bytes: ArraySlice<UInt8>

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = bytes.first {
                bytes = bytes.dropFirst()
                guard shift < 64 else { throw Failure(description: "a varint is longer than 10 bytes") }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            throw Failure(description: "a varint is cut short")
        }

        mutating func fixed(_ count: Int) throws -> UInt64 {
            guard bytes.count >= count else { throw Failure(description: "a fixed-size field is cut short") }
            var value: UInt64 = 0
            for (index, byte) in bytes.prefix(count).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
            bytes = bytes.dropFirst(count)
            return value
        }

        mutating func nextField() throws -> (Int, FieldBody)? {
            guard !bytes.isEmpty else { return nil }
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 0b111 {
            case 0: return (field, .varint(try varint()))
            case 1: return (field, .fixed64(try fixed(8)))
            case 2:
                let length = try varint()
                guard length <= UInt64(bytes.count) else { throw Failure(description: "field \(field) runs past the end of its message") }
                let body = bytes.prefix(Int(length))
                bytes = bytes.dropFirst(Int(length))
                return (field, .bytes(body))
            case 5: return (field, .fixed32(UInt32(try fixed(4))))
            default: throw Failure(description: "wire type \(key & 0b111) is not one proto3 uses")
            }
        }
    }
}
