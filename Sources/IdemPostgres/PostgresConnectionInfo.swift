import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the client knows about a connection string before connecting: where it points
/// (for error messages) and its password (so that no message ever shows it).
struct PostgresConnectionInfo: Sendable {
    /// The connection string with the password replaced by `***`.
    let redacted: String
    /// The host list as written (or the default), for messages.
    let host: String
    /// The port list as written (or the default), for messages.
    let port: String
    /// The password from the connection string, if it has one.
    let password: String?

    /// `host:port` for messages; IPv6 literals are bracketed.
    var endpoint: String {
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(shownHost):\(port)"
    }

    /// Parses `conninfo` (a `postgresql://` URL or `key=value` pairs) with libpq.
    static func parse(_ conninfo: String) throws(PostgresError) -> PostgresConnectionInfo {
        let manual = redact(conninfo)
        if conninfo.utf8.contains(0) {
            throw PostgresError(
                kind: .invalidConnectionString,
                message: "invalid PostgreSQL connection string \(manual.text): it contains a NUL byte"
            )
        }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            var reason = "libpq could not parse it"
            if let errorMessage {
                reason = String(cString: errorMessage).trimmingTrailingWhitespace()
                PQfreemem(errorMessage)
            }
            let scrubbed = scrub(reason, password: manual.password)
            throw PostgresError(
                kind: .invalidConnectionString,
                message: "invalid PostgreSQL connection string \(manual.text): \(scrubbed)"
            )
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var index = 0
        while let keyword = options[index].keyword {
            if let value = options[index].val {
                values[String(cString: keyword)] = String(cString: value)
            }
            index += 1
        }
        let environment = ProcessEnvironment()
        let host =
            nonEmpty(values["host"]) ?? nonEmpty(values["hostaddr"]) ?? environment["PGHOST"]
            ?? "/var/run/postgresql"
        let port = nonEmpty(values["port"]) ?? environment["PGPORT"] ?? "5432"
        let password = nonEmpty(values["password"]) ?? manual.password
        return PostgresConnectionInfo(
            redacted: redact(conninfo, password: password).text,
            host: host,
            port: port,
            password: password
        )
    }

    /// Replaces every occurrence of the password in `text` with `***`.
    func scrub(_ text: String) -> String {
        Self.scrub(text, password: password)
    }

    static func scrub(_ text: String, password: String?) -> String {
        guard let password, !password.isEmpty else { return text }
        var result = text.replacing(password, with: "***")
        if let decoded = password.removingPercentEncodingLeniently(), decoded != password,
            !decoded.isEmpty
        {
            result = result.replacing(decoded, with: "***")
        }
        return result
    }

    /// Redacts the password of a URL (`user:secret@`, `?password=secret`) or of
    /// `key=value` pairs (`password=secret`), without libpq, so that even strings libpq
    /// cannot parse are safe to show.
    static func redact(_ conninfo: String, password known: String? = nil) -> (
        text: String, password: String?
    ) {
        var found: String?
        let text: String
        if let schemeEnd = conninfo.firstRange(of: "://"),
            conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://")
        {
            let afterScheme = conninfo[schemeEnd.upperBound...]
            var output = String(conninfo[..<schemeEnd.upperBound])
            var rest = afterScheme[...]
            if let stop = afterScheme.firstIndex(where: { $0 == "@" || $0 == "/" }),
                afterScheme[stop] == "@"
            {
                let userInfo = afterScheme[..<stop]
                if let colon = userInfo.firstIndex(of: ":") {
                    output += userInfo[..<colon] + ":***@"
                    found = String(userInfo[userInfo.index(after: colon)...])
                } else {
                    output += userInfo + "@"
                }
                rest = afterScheme[afterScheme.index(after: stop)...]
            }
            if let question = rest.firstIndex(of: "?") {
                output += rest[..<question] + "?"
                let pairs = rest[rest.index(after: question)...].split(
                    separator: "&", omittingEmptySubsequences: false)
                output += pairs.map { pair -> String in
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2, parts[0] == "password" {
                        found = found ?? String(parts[1])
                        return "password=***"
                    }
                    return String(pair)
                }.joined(separator: "&")
            } else {
                output += rest
            }
            text = output
        } else {
            let redacted = redactKeywordValue(conninfo)
            text = redacted.text
            found = redacted.password
        }
        let password = known ?? found
        return (scrub(text, password: password), password)
    }

    /// Redacts `password=value` in libpq's `key=value` syntax (values may be quoted).
    private static func redactKeywordValue(_ conninfo: String) -> (text: String, password: String?) {
        let characters = Array(conninfo)
        var output = ""
        var password: String?
        var index = 0
        while index < characters.count {
            // Skip whitespace between pairs.
            while index < characters.count, characters[index].isWhitespace {
                output.append(characters[index])
                index += 1
            }
            var keyword = ""
            while index < characters.count, characters[index] != "=",
                !characters[index].isWhitespace
            {
                keyword.append(characters[index])
                index += 1
            }
            output += keyword
            while index < characters.count, characters[index].isWhitespace {
                output.append(characters[index])
                index += 1
            }
            guard index < characters.count, characters[index] == "=" else { continue }
            output.append("=")
            index += 1
            while index < characters.count, characters[index].isWhitespace {
                output.append(characters[index])
                index += 1
            }
            var value = ""
            var raw = ""
            if index < characters.count, characters[index] == "'" {
                raw.append("'")
                index += 1
                while index < characters.count, characters[index] != "'" {
                    if characters[index] == "\\", index + 1 < characters.count {
                        raw.append(characters[index])
                        index += 1
                    }
                    value.append(characters[index])
                    raw.append(characters[index])
                    index += 1
                }
                if index < characters.count {
                    raw.append("'")
                    index += 1
                }
            } else {
                while index < characters.count, !characters[index].isWhitespace {
                    if characters[index] == "\\", index + 1 < characters.count {
                        raw.append(characters[index])
                        index += 1
                    }
                    value.append(characters[index])
                    raw.append(characters[index])
                    index += 1
                }
            }
            if keyword == "password" {
                password = password ?? value
                output += "***"
            } else {
                output += raw
            }
        }
        return (output, password)
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

/// Reads the process environment without Foundation.
private struct ProcessEnvironment {
    subscript(name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

extension String {
    /// The string on one line: trailing whitespace removed (libpq messages end in `\n`)
    /// and the lines of multi-line libpq messages joined with `; `.
    func trimmingTrailingWhitespace() -> String {
        split(whereSeparator: \.isNewline)
            .map { line in
                var text = line
                while let first = text.first, first.isWhitespace { text = text.dropFirst() }
                while let last = text.last, last.isWhitespace { text = text.dropLast() }
                return String(text)
            }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }

    /// Decodes `%XX` escapes; returns nil when the result is not UTF-8.
    func removingPercentEncodingLeniently() -> String? {
        var bytes: [UInt8] = []
        var utf8 = Array(self.utf8)[...]
        while let byte = utf8.first {
            utf8 = utf8.dropFirst()
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let high = hexValue(utf8[utf8.startIndex]),
                let low = hexValue(utf8[utf8.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
