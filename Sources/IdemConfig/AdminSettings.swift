/// The admin API (`admin:`): list the consumers, pause and resume one, for `idem ctl`.
///
/// Off by default. When on, every request must carry `Authorization: Bearer TOKEN`; the
/// token comes from `token` (write it as `${IDEM_ADMIN_TOKEN}`) or `token_file`. It listens
/// on its own address, not the metrics port, unless `listen: metrics` puts it on the
/// operations listener.
public struct AdminSettings: Sendable, Hashable {
    /// Whether the admin API runs.
    public var enabled: Bool
    /// Where it listens: its own address, or the operations listener (`metrics.listen`).
    public var listen: Listen
    /// The bearer token requests must carry (never logged).
    public var token: String

    /// Where the admin API listens.
    public enum Listen: Sendable, Hashable {
        /// Its own listener on `host:port`.
        case address(host: String, port: Int)
        /// The operations listener, beside `/metrics`.
        case metrics
    }

    /// Creates settings; the default is off, on `127.0.0.1:9465` once enabled.
    public init(enabled: Bool = false, listen: Listen = .address(host: "127.0.0.1", port: 9465), token: String = "") {
        self.enabled = enabled
        self.listen = listen
        self.token = token
    }

    /// The shortest token accepted: a guessable one would let anyone on the network pause
    /// the worker.
    public static let minimumTokenLength = 16
}
