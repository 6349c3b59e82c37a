/// TLS settings for a broker connection.
public struct TLSSettings: Sendable, Hashable {
    /// A PEM file of CA certificates to trust.
    public var caFile: String?
    /// A PEM client certificate, for mutual TLS.
    public var certFile: String?
    /// The client certificate's PEM private key.
    public var keyFile: String?
    /// Whether to verify the server's certificate and host name (on by default).
    public var verify: Bool

    /// Creates settings.
    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, verify: Bool = true) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.verify = verify
    }
}
