import NIOSSL

/// TLS for the connections to nodes that run TLS distribution (`-proto_dist inet_tls` with an
/// `-ssl_dist_optfile`): Numbat's certificate and key, which the node verifies
/// (`{verify, verify_peer}, {fail_if_no_peer_cert, true}` on its server side), and the CA
/// certificates the node's own certificate must chain to. The node's certificate must also name
/// the host Numbat dials: its DNS name, or its IP address as an IP SAN.
public struct DistributionTLS: Sendable, Hashable {
    /// PEM: Numbat's certificate, then any intermediates.
    public var certificateChain: String
    /// PEM: the private key of the first certificate.
    public var privateKey: String
    /// PEM: the CA certificates the node's certificate is checked against.
    public var trustRoots: String

    public init(certificateChain: String, privateKey: String, trustRoots: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.trustRoots = trustRoots
    }

    /// Checks that the certificate, key and CA parse, without connecting anywhere: what a
    /// server checks when it is given settings to store.
    public func validate() throws(DistributionError) {
        _ = try clientContext()
    }

    /// The client context for these files: parsed once, so a bad PEM is an error when the TLS
    /// is set, not at every connection.
    func clientContext() throws(DistributionError) -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateChain.utf8))
            guard !chain.isEmpty else { throw DistributionError.tlsFailed(nil, reason: "the certificate holds no PEM certificate") }
            let roots = try NIOSSLCertificate.fromPEMBytes(Array(trustRoots.utf8))
            guard !roots.isEmpty else { throw DistributionError.tlsFailed(nil, reason: "the CA holds no PEM certificate") }
            let key = try NIOSSLPrivateKey(bytes: Array(privateKey.utf8), format: .pem)
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
            configuration.trustRoots = .certificates(roots)
            configuration.certificateVerification = .fullVerification
            configuration.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: configuration)
        } catch let error as DistributionError {
            throw error
        } catch {
            throw .tlsFailed(nil, reason: "cannot use the certificate, key or CA given: \(error)")
        }
    }
}

extension DistributionError {
    /// A TLS error from the connection, in words: BoringSSL's reasons name what failed.
    static func tls(_ error: NIOSSLError, peer: NodeName?) -> DistributionError {
        guard case .handshakeFailed(let reason) = error else { return .tlsFailed(peer, reason: "\(error)") }
        let detail = "\(reason)"
        let why: String
        if detail.contains("CERTIFICATE_VERIFY_FAILED") {
            why = "the node's certificate does not verify: it must chain to the CA given and name the host dialled (its DNS name, or its address as an IP SAN)"
        } else if detail.contains("ALERT_BAD_CERTIFICATE") || detail.contains("ALERT_UNKNOWN_CA") || detail.contains("ALERT_CERTIFICATE") {
            why = "the node refused Numbat's certificate: its CA must be in the node's cacertfile"
        } else if detail.contains("EOF during handshake") {
            why = "the node closed the connection during the TLS handshake: does it run TLS distribution (-proto_dist inet_tls)?"
        } else {
            why = "the TLS handshake failed"
        }
        return .tlsFailed(peer, reason: "\(why) (\(detail))")
    }
}
