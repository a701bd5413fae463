extension StringProtocol {
    /// Whether the text is empty or only whitespace: a name or comment that says nothing.
    ///
    /// The API document says such fields match the pattern `\S`, and clients validate that
    /// pattern with their own regular expressions (Python's `re`, JavaScript's): whitespace here
    /// is Unicode's White_Space plus the ASCII separators U+001C...U+001F, which those engines
    /// also count as `\s`, so the server refuses exactly the values the document calls invalid.
    public var isBlank: Bool {
        allSatisfy { $0.isWhitespace || ("\u{1C}"..."\u{1F}").contains($0) }
    }
}
