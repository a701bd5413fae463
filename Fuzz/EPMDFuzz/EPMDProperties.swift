@testable import ErlangDist

/// EPMD's replies and requests (`EPMDProtocol`) parsed from fuzzed bytes: every input goes
/// through every parser, since EPMD's answers are told apart by the request, not by the bytes.
/// What must hold:
///
/// - Each parser returns a value, "more bytes needed" (nil) or an `epmdProtocol` /
///   `registrationRefused` error; never anything else.
/// - A decided answer stays decided: parsing the input with bytes cut off the end gives nil
///   ("more bytes") or the same answer, never a different one (the client reads as bytes come).
/// - What parses re-encodes (`portPleaseResponse`, `namesResponse`, `portPleaseRequest`,
///   `namesRequestBytes`) to bytes that parse to an equal value.
/// - A stand-in EPMD reading a stream of requests consumes each one whole (3 to 514 bytes) and
///   never loops without progress.
enum EPMDProperties {
    @discardableResult
    static func check(_ bytes: [UInt8]) -> Bool {
        var accepted = false
        accepted = portPlease(bytes) || accepted
        accepted = names(bytes) || accepted
        accepted = alive(bytes) || accepted
        accepted = requests(bytes) || accepted
        return accepted
    }

    static func expectEPMDError(_ error: any Error) {
        guard let error = error as? DistributionError else { preconditionFailure("threw \(error)") }
        switch error {
        case .epmdProtocol, .registrationRefused: precondition(!error.description.isEmpty)
        default: preconditionFailure("unexpected error \(error)")
        }
    }

    static func portPlease(_ bytes: [UInt8]) -> Bool {
        let entry: EPMDProtocol.NodeEntry?
        do {
            entry = try EPMDProtocol.parsePortPleaseResponse(bytes)
        } catch {
            expectEPMDError(error)
            return false
        }
        guard let entry else {
            precondition(bytes.count >= 2 && bytes[0] == 119 && bytes[1] != 0, "\(bytes) read as 'no such node'")
            return true
        }
        precondition((0...65535).contains(entry.port) && bytes[1] == 0)
        let again = EPMDProtocol.portPleaseResponse(entry)
        precondition((try? EPMDProtocol.parsePortPleaseResponse(again)) == entry, "\(entry) does not re-encode")
        // Cut before the end of the name, it is an error, never a different entry.
        let nameEnd = 12 + (Int(bytes[10]) << 8 | Int(bytes[11]))
        for cut in [nameEnd - 1, 11, 2] where cut >= 0 && cut < nameEnd && cut < bytes.count {
            if let other = try? EPMDProtocol.parsePortPleaseResponse(Array(bytes[..<cut])) {
                preconditionFailure("a cut PORT2_RESP read as \(other), the whole as \(entry)")
            }
        }
        return true
    }

    static func names(_ bytes: [UInt8]) -> Bool {
        let names: [String: Int]
        do {
            names = try EPMDProtocol.parseNamesResponse(bytes)
        } catch {
            expectEPMDError(error)
            precondition(bytes.count < 4, "NAMES_RESP of \(bytes.count) bytes refused")
            return false
        }
        for name in names.keys {
            precondition(!name.isEmpty && !name.contains(" ") && !name.contains("\n"), "name '\(name)'")
        }
        let port = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
        let again = EPMDProtocol.namesResponse(epmdPort: port, names.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        precondition(Array(again[0..<4]) == Array(bytes[0..<4]))
        precondition((try? EPMDProtocol.parseNamesResponse(again)) == names, "\(names) does not re-encode")
        return !names.isEmpty
    }

    static func alive(_ bytes: [UInt8]) -> Bool {
        func parse(_ bytes: [UInt8]) -> Result<UInt32?, DistributionError> {
            Result { () throws(DistributionError) in try EPMDProtocol.parseAliveResponse(bytes, name: "fuzz") }
        }
        let whole = parse(bytes)
        if case .failure(let error) = whole { expectEPMDError(error) }
        for cut in 0..<min(bytes.count, 8) {
            switch (parse(Array(bytes[..<cut])), whole) {
            case (.success(nil), _): break
            case (.success(let a?), .success(let b?)): precondition(a == b, "creation \(a) from \(cut) bytes, \(b) from all")
            case (.failure(let a), .failure(let b)): precondition(a.description == b.description)
            case (let a, let b): preconditionFailure("\(cut) bytes read as \(a), all \(bytes.count) as \(b)")
            }
        }
        switch whole {
        case .success(let creation?):
            if bytes[0] == EPMDProtocol.alive2Response { precondition(creation <= 0xFFFF) }
            return true
        case .success(nil):
            precondition(bytes.isEmpty || (bytes[0] == EPMDProtocol.alive2ExtendedResponse ? bytes.count < 6 : bytes.count < 4))
            return false
        case .failure:
            return false
        }
    }

    /// Reads `bytes` as a stream of requests, as the node simulator's EPMD does.
    static func requests(_ bytes: [UInt8]) -> Bool {
        var rest = bytes[...]
        var count = 0
        while true {
            let parsed: (request: EPMDProtocol.Request, consumed: Int)?
            do {
                // A request is at most 514 bytes: its prefix parses as the whole rest does (and
                // copying only that keeps a stream of thousands of tiny requests linear).
                parsed = try EPMDProtocol.parseRequest(Array(rest.prefix(514)))
            } catch {
                expectEPMDError(error)
                return count > 0
            }
            guard let (request, consumed) = parsed else {
                precondition(rest.count < 2 || rest.count < 2 + (Int(rest[rest.startIndex]) << 8 | Int(rest[rest.startIndex + 1])))
                return count > 0
            }
            precondition(consumed >= 3 && consumed <= 514 && consumed <= rest.count, "consumed \(consumed) of \(rest.count)")
            let whole = Array(rest.prefix(consumed))
            do {
                let cut = try EPMDProtocol.parseRequest(Array(whole.dropLast()))
                precondition(cut == nil, "a cut request parses")
            } catch {
                preconditionFailure("a cut request is refused: \(error)")
            }
            switch request {
            case .portPlease(let name):
                let again = EPMDProtocol.portPleaseRequest(name: name)
                if again.count <= 514 {
                    let reparsed = try? EPMDProtocol.parseRequest(again)
                    precondition(reparsed?.request == request && reparsed?.consumed == again.count, "\(request) does not re-encode")
                }
            case .names:
                precondition(whole[2] == EPMDProtocol.namesRequest)
            case .unsupported(let tag):
                precondition(tag == whole[2] && tag != EPMDProtocol.namesRequest && tag != EPMDProtocol.portPlease2Request)
            }
            rest = rest.dropFirst(consumed)
            count += 1
        }
    }
}
