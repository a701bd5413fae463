/// The text of a `FLOAT_EXT` (tag 99), which OTP wrote before `NEW_FLOAT_EXT` (`minor_version 0`):
/// 31 bytes holding a NUL-terminated `printf("%.20e")` float.
enum LegacyFloat {
    /// The value, read the way binary_to_term reads it (erts `sys_chars_to_double`): an optional
    /// sign, digits, a `.` and digits, an optional exponent, then a NUL or the end; nothing else
    /// (no spaces, no `inf`/`nan`, no hex floats, which Swift's `Double(String)` would accept).
    /// A value that overflows to infinity is rejected, as in Erlang; one that underflows is not.
    ///
    /// The NUL is required: binary_to_term parses the text in place up to a NUL, so without one
    /// it runs on into the next term's bytes and, in practice, rejects the float.
    static func parse(_ field: [UInt8]) -> Double? {
        guard let end = field.firstIndex(of: 0) else { return nil }
        let text = field[..<end]
        var index = text.startIndex
        func digits() -> Int {
            let first = index
            while index < text.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[index]) { index += 1 }
            return index - first
        }
        func sign() {
            if index < text.endIndex, text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") { index += 1 }
        }
        sign()
        guard digits() > 0, index < text.endIndex, text[index] == UInt8(ascii: ".") else { return nil }
        index += 1
        guard digits() > 0 else { return nil }
        if index < text.endIndex, text[index] == UInt8(ascii: "e") || text[index] == UInt8(ascii: "E") {
            index += 1
            sign()
            guard digits() > 0 else { return nil }
        }
        guard index == text.endIndex, let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else {
            return nil
        }
        return value
    }
}
