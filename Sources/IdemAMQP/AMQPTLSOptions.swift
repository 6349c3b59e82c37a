#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// TLS settings for an `amqps://` connection (ignored for `amqp://`).
///
/// By default the broker's certificate chain and host name are verified against the
/// system's CA bundle (the first of `/etc/ssl/certs/ca-certificates.crt`,
/// `/etc/pki/tls/certs/ca-bundle.crt`, `/etc/ssl/cert.pem` that exists). Files are PEM.
public struct AMQPTLSOptions: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// A PEM file of the CA certificates to trust; `nil` uses the system bundle.
    public var caFile: String?
    /// A PEM client certificate (chain) for mutual TLS; requires ``keyFile``.
    public var certFile: String?
    /// The client certificate's PEM private key; requires ``certFile``.
    public var keyFile: String?
    /// The password of an encrypted ``keyFile``. Without one an encrypted key fails to
    /// load (it never prompts on a terminal).
    public var keyPassword: String?
    /// Whether to verify the broker's certificate chain against the CAs.
    public var verifyPeer: Bool
    /// Whether the broker's certificate must name the URL's host (a DNS subject
    /// alternative name or common name; IP addresses are not matched).
    public var verifyHostname: Bool

    /// Creates TLS settings; verification is on by default.
    public init(
        caFile: String? = nil,
        certFile: String? = nil,
        keyFile: String? = nil,
        keyPassword: String? = nil,
        verifyPeer: Bool = true,
        verifyHostname: Bool = true
    ) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.keyPassword = keyPassword
        self.verifyPeer = verifyPeer
        self.verifyHostname = verifyHostname
    }

    /// The settings, with the key password shown as `***`.
    public var description: String {
        "AMQPTLSOptions(caFile: \(caFile ?? "nil"), certFile: \(certFile ?? "nil"), "
            + "keyFile: \(keyFile ?? "nil"), keyPassword: \(keyPassword == nil ? "nil" : "***"), "
            + "verifyPeer: \(verifyPeer), verifyHostname: \(verifyHostname))"
    }

    /// A mirror without the key password, so that `dump` does not show it either.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "caFile": caFile as Any, "certFile": certFile as Any, "keyFile": keyFile as Any,
                "keyPassword": keyPassword == nil ? "nil" : "***", "verifyPeer": verifyPeer,
                "verifyHostname": verifyHostname,
            ])
    }

    /// System CA bundles, in the order they are tried when ``caFile`` is `nil`.
    static let systemBundles = [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem",
    ]

    /// Why `path` cannot be read, or `nil` when it can.
    static func unreadableReason(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        if descriptor < 0 { return String(cString: strerror(errno)) }
        defer { _ = close(descriptor) }
        var info = stat()
        if fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            return "it is a directory"
        }
        return nil
    }
}
