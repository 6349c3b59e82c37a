/// The operations listener: Prometheus metrics on `/metrics`, and `/healthz` and `/readyz`
/// for probes.
public struct MetricsSettings: Sendable, Hashable {
    /// Whether the listener runs at all.
    public var enabled: Bool
    /// The address it binds (an IPv4 or IPv6 literal, or a host name such as `localhost`).
    public var host: String
    /// The TCP port (`0`: any free port, which the log then names).
    public var port: Int

    /// Creates settings; the default is enabled on `127.0.0.1:9464`.
    public init(enabled: Bool = true, host: String = "127.0.0.1", port: Int = 9464) {
        self.enabled = enabled
        self.host = host
        self.port = port
    }

    /// `host:port`, with an IPv6 host in brackets.
    public var listen: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses `host:port` or `[ipv6]:port`; `nil` when it is not one.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), let port = Int(portText), (0...65535).contains(port)
        else { return nil }
        return (String(host), port)
    }
}
