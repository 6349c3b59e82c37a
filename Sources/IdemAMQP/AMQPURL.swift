/// The parts of an `amqp://user:password@host:port/vhost` or `amqps://…` URL.
///
/// Parsing follows the RabbitMQ URI specification: user, password and vhost are
/// percent-decoded, the port defaults to 5672 (5671 for `amqps://`, which connects over
/// TLS; see ``AMQPTLSOptions``), the user and password to `guest`, and a
/// missing or empty path means the vhost `/` (write `%2F` for `/` explicitly, or
/// `/%2Fother` for a vhost containing a slash). The query parameters `heartbeat`
/// (seconds), `connection_timeout` (milliseconds), `channel_max` and `frame_max` are
/// understood; any other is an error.
///
/// The description and the mirror show the password as `***`.
public struct AMQPURL: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The broker host name or IP address (IPv6 without brackets).
    public var host: String
    /// The broker port.
    public var port: Int
    /// The user name.
    public var user: String
    /// The password; never shown by ``description``.
    public var password: String
    /// The virtual host, decoded (for example `/`).
    public var vhost: String
    /// The heartbeat interval from the `heartbeat` query parameter, if present.
    public var heartbeat: Duration?
    /// The connection timeout from the `connection_timeout` query parameter, if present.
    public var connectionTimeout: Duration?
    /// The maximum channel number from `channel_max`, if present.
    public var channelMax: Int?
    /// The maximum frame size from `frame_max`, if present.
    public var frameMax: Int?
    /// Whether the connection uses TLS (`amqps://`).
    public var usesTLS: Bool

    /// The default AMQP port.
    public static let defaultPort = 5672
    /// The default AMQP-over-TLS port.
    public static let defaultTLSPort = 5671

    /// Creates a URL from its parts; the port defaults to 5672, or 5671 with TLS.
    public init(
        host: String,
        port: Int? = nil,
        user: String = "guest",
        password: String = "guest",
        vhost: String = "/",
        usesTLS: Bool = false
    ) {
        self.host = host
        self.port = port ?? (usesTLS ? Self.defaultTLSPort : Self.defaultPort)
        self.usesTLS = usesTLS
        self.user = user
        self.password = password
        self.vhost = vhost
    }

    /// Parses an `amqp://` or `amqps://` URL.
    ///
    /// - Throws: ``AMQPError`` of kind ``AMQPError/Kind/invalidURL``; its message shows the
    ///   URL with the password redacted and says what is wrong.
    public init(parsing text: String) throws(AMQPError) {
        let shown = Self.redact(text)
        func invalid(_ reason: String) -> AMQPError {
            AMQPError(kind: .invalidURL, message: "invalid AMQP URL '\(shown)': \(reason)")
        }
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw invalid("expected amqp://user:password@host:port/vhost")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "amqp" || scheme == "amqps" else {
            throw invalid("the scheme must be amqp:// or amqps://, not \(scheme)://")
        }
        let usesTLS = scheme == "amqps"
        var rest = text[schemeEnd.upperBound...]
        var query: Substring?
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        if rest.contains("#") {
            throw invalid("a fragment (#…) is not allowed; percent-encode '#' as %23")
        }
        let authority: Substring
        var path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            authority = rest
        }

        var hostPort = authority
        var user = "guest"
        var password = "guest"
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            let rawUser: Substring
            var rawPassword: Substring?
            if let colon = userInfo.firstIndex(of: ":") {
                rawUser = userInfo[..<colon]
                rawPassword = userInfo[userInfo.index(after: colon)...]
            } else {
                rawUser = userInfo
            }
            guard let decodedUser = Self.percentDecode(rawUser) else {
                throw invalid("the user name has an invalid percent-encoding")
            }
            user = decodedUser
            if let rawPassword {
                guard let decodedPassword = Self.percentDecode(rawPassword) else {
                    throw invalid("the password has an invalid percent-encoding")
                }
                password = decodedPassword
            }
        }

        var host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw invalid("an IPv6 address must end with ']'")
            }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw invalid("expected ':port' after the IPv6 address")
                }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }
        guard let decodedHost = Self.percentDecode(host) else {
            throw invalid("the host has an invalid percent-encoding")
        }
        var port = usesTLS ? Self.defaultTLSPort : Self.defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw invalid("the port '\(portText)' is not a number from 1 to 65535")
            }
            port = value
        }

        var vhost = "/"
        if let path, !path.isEmpty {
            if path.contains("/") {
                throw invalid("the vhost must be one path segment; write '/' in it as %2F")
            }
            guard let decoded = Self.percentDecode(path) else {
                throw invalid("the vhost has an invalid percent-encoding")
            }
            vhost = decoded
        }

        self.init(
            host: decodedHost.isEmpty ? "localhost" : decodedHost,
            port: port,
            user: user,
            password: password,
            vhost: vhost,
            usesTLS: usesTLS)

        if let query, !query.isEmpty {
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(parts[0])
                let value = parts.count > 1 ? String(parts[1]) : ""
                guard let number = Int(value), number >= 0 else {
                    throw invalid("query parameter '\(key)' must be a non-negative integer")
                }
                switch key {
                case "heartbeat": heartbeat = .seconds(number)
                case "connection_timeout": connectionTimeout = .milliseconds(number)
                case "channel_max": channelMax = number
                case "frame_max": frameMax = number
                default:
                    throw invalid(
                        "unknown query parameter '\(key)'; expected heartbeat, "
                            + "connection_timeout, channel_max or frame_max")
                }
            }
        }
    }

    /// `amqp://user:***@host:port/vhost` (or `amqps://…`), with the vhost percent-encoded.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return
            "\(usesTLS ? "amqps" : "amqp")://\(Self.percentEncode(user)):***@\(shownHost):\(port)/\(Self.percentEncode(vhost))"
    }

    /// The same as ``description``: the password is never shown.
    public var debugDescription: String { description }

    /// A mirror without the password, so `dump` and reflection do not show it either.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": host, "port": port, "user": user, "password": "***", "vhost": vhost,
                "usesTLS": usesTLS,
            ])
    }

    /// `host:port` for messages.
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    // MARK: - Helpers

    /// The URL text with whatever stands between `user:` and `@` replaced by `***`.
    static func redact(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://") else {
            // Not a URL; it may still be `user:secret@host`: hide everything before '@'.
            if let at = text.lastIndex(of: "@") { return "***" + text[at...] }
            return text
        }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"),
            let colon = authority[..<at].firstIndex(of: ":")
        else { return text }
        return text[..<schemeEnd.upperBound] + authority[..<colon] + ":***" + text[at...]
    }

    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.first {
            utf8 = utf8.dropFirst()
            if byte == UInt8(ascii: "%") {
                guard utf8.count >= 2, let high = hexValue(utf8[utf8.startIndex]),
                    let low = hexValue(utf8[utf8.startIndex + 1])
                else { return nil }
                bytes.append(high << 4 | low)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF")
                result += "%\(digits[Int(byte >> 4)])\(digits[Int(byte & 0x0F)])"
            }
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
