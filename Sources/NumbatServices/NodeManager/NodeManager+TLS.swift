import ErlangDist
import Foundation
import NumbatCore

/// Families' TLS settings, read from the store at most every `maximumAge`, one read at a time:
/// every connection of a node without TLS settings of its own asks for its family's, and a
/// server starting (or taking over) thousands of nodes must not read the store for each, nor
/// all at once. Another server of a cluster that changes a family's settings is seen here
/// within `maximumAge`; this server's own changes at once.
struct FamilyTLSCache {
    static let maximumAge: Duration = .seconds(10)
    var byFamily: [UUID: TLSCredentials] = [:]
    var readAt: ContinuousClock.Instant?
    /// The read under way, which every caller that finds the cache stale awaits.
    var reading: Task<[UUID: TLSCredentials], any Error>?

    func isFresh(at now: ContinuousClock.Instant) -> Bool {
        readAt.map { now - $0 < Self.maximumAge } ?? false
    }
}

/// TLS distribution per node and per family: a node connects with its own settings, else with
/// its family's, else over plain TCP, so one server manages TLS and plain nodes side by side.
extension NodeManager {
    /// Sets what the local node needs to reach `name`: its cookie, its fixed port (nil: ask
    /// EPMD) and its TLS settings. Throws `tlsFailed` for settings that do not parse.
    func prepareConnection(to name: NodeName, port: Int?, credentials: NodeCredentials, familyID: UUID?) async throws {
        local.setCookie(credentials.cookie, for: name)
        local.setDistributionPort(port, for: name)
        var tls = credentials.tls
        if tls == nil, let familyID { tls = try await familyTLS(familyID) }
        try local.setTLS(tls.map(Self.distributionTLS), for: name)
    }

    /// Forgets what `prepareConnection` set.
    func forgetConnection(to name: NodeName) {
        local.removeCookie(for: name)
        local.setDistributionPort(nil, for: name)
        try? local.setTLS(nil, for: name)
    }

    /// Replaces a node's own TLS settings (nil: its family's, or plain TCP), stored sealed. They
    /// take effect at its next connection; the one open now goes on.
    public func setTLS(_ tls: TLSCredentials?, forNode id: UUID) async throws {
        if let tls { try Self.validate(tls) }
        let supervisor = try await supervisor(id: id)
        guard try await store.setTLS(tls, forNode: id) else {
            throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
        }
        supervisor.ownTLS = tls
        logger.info("node TLS settings \(tls == nil ? "removed" : "replaced")", metadata: ["node": "\(supervisor.node.name)"])
    }

    /// Replaces a family's TLS settings (nil: none), stored sealed: its nodes without settings of
    /// their own use them from their next connection, deployed nodes from their first.
    public func setTLS(_ tls: TLSCredentials?, forFamily id: UUID) async throws {
        if let tls { try Self.validate(tls) }
        guard try await store.setTLS(tls, forFamily: id) else {
            throw NumbatError.notFound("family_not_found", "no family has id \(id.uuidString.lowercased())")
        }
        familyTLS.withLockedValue { cache in
            cache.byFamily[id] = tls
            // A read under way may have started before this change: its answer is dropped.
            cache.reading = nil
        }
        logger.info("family TLS settings \(tls == nil ? "removed" : "replaced")", metadata: ["family": "\(id.uuidString.lowercased())"])
    }

    /// Whether the family has TLS settings (for the families' answers; the settings stay here).
    public func familyHasTLS(_ id: UUID) async throws -> Bool {
        try await familyTLS(id) != nil
    }

    /// Checks that `tls` parses (certificate, key, CA), so that bad settings are refused when
    /// given, never found at a connection. A 400 `invalid_tls` saying what does not parse.
    public static func validate(_ tls: TLSCredentials) throws {
        do throws(DistributionError) {
            try distributionTLS(tls).validate()
        } catch {
            guard case .tlsFailed(_, let reason) = error else { throw NumbatError.badRequest("invalid_tls", "\(error)") }
            throw NumbatError.badRequest("invalid_tls", reason)
        }
    }

    static func distributionTLS(_ tls: TLSCredentials) -> DistributionTLS {
        DistributionTLS(certificateChain: tls.certificate, privateKey: tls.key, trustRoots: tls.ca)
    }

    private func familyTLS(_ id: UUID) async throws -> TLSCredentials? {
        let now = ContinuousClock.now
        let (cached, reading) = familyTLS.withLockedValue { cache -> (TLSCredentials??, Task<[UUID: TLSCredentials], any Error>?) in
            if cache.isFresh(at: now) { return (.some(cache.byFamily[id]), nil) }
            if let reading = cache.reading { return (nil, reading) }
            let reading = Task { [store] in try await store.familiesTLS() }
            cache.reading = reading
            return (nil, reading)
        }
        if let cached { return cached }
        guard let reading else { return nil }
        do {
            let all = try await reading.value
            familyTLS.withLockedValue { cache in
                guard cache.reading == reading else { return }
                cache = FamilyTLSCache(byFamily: all, readAt: now)
            }
            return all[id]
        } catch {
            familyTLS.withLockedValue { cache in if cache.reading == reading { cache.reading = nil } }
            throw error
        }
    }

    /// Reads every family's settings now (at start, before the stored nodes connect).
    func loadFamilyTLS() async throws {
        let all = try await store.familiesTLS()
        familyTLS.withLockedValue { $0 = FamilyTLSCache(byFamily: all, readAt: .now) }
    }
}
