import NumbatCore

extension CommandsService {
    /// A pid parameter, `<0.123.0>` or `0.123.0` (three numbers of at most ten digits, as the API
    /// document's pattern says), in the `<...>` form the node reads. Anything else is a 400 here,
    /// before the node is asked; a well-formed pid the node has no process for is a 404.
    static func pid(_ text: String) throws -> String {
        let inner = text.hasPrefix("<") && text.hasSuffix(">") && text.count > 2 ? String(text.dropFirst().dropLast()) : text
        let parts = inner.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ (1...10).contains($0.count) && $0.allSatisfy { ("0"..."9").contains($0) } }) else {
            throw NumbatError.badRequest("invalid_pid", "a pid looks like <0.123.0> or 0.123.0")
        }
        return "<\(inner)>"
    }
}
