extension PostgresConnection {
    /// A PostgreSQL array literal of `values`, to pass a list as one text parameter
    /// (`$1::text[]`) instead of building SQL.
    ///
    /// ```swift
    /// PostgresConnection.encodeTextArray(["a", "b\"c", nil])  // {"a","b\"c",NULL}
    /// try await connection.query("SELECT * FROM t WHERE id = ANY($1::text[])", [literal])
    /// ```
    ///
    /// Every element is quoted, with `"` and `\` escaped, so that any text (empty, with
    /// commas, braces, spaces, the word `NULL`) comes back unchanged; `nil` is SQL `NULL`.
    public static func encodeTextArray(_ values: [String?]) -> String {
        let capacity = values.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 }
        // Built as UTF-8 bytes: the syntax characters are ASCII, and everything else is
        // copied as is (UTF-8 never uses ASCII bytes inside a multi-byte character).
        return String(unsafeUninitializedCapacity: capacity * 2) { buffer in
            var count = 0
            func put(_ byte: UInt8) {
                buffer[count] = byte
                count += 1
            }
            put(UInt8(ascii: "{"))
            for (index, value) in values.enumerated() {
                if index > 0 { put(UInt8(ascii: ",")) }
                guard var value else {
                    for byte in "NULL".utf8 { put(byte) }
                    continue
                }
                put(UInt8(ascii: "\""))
                value.withUTF8 { bytes in
                    for byte in bytes {
                        if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { put(UInt8(ascii: "\\")) }
                        put(byte)
                    }
                }
                put(UInt8(ascii: "\""))
            }
            put(UInt8(ascii: "}"))
            return count
        }
    }

    /// A PostgreSQL array literal of `values` (`{1,2,3}`), for `$1::bigint[]`.
    public static func encodeInt64Array(_ values: [Int64]) -> String {
        "{" + values.map { String($0) }.joined(separator: ",") + "}"
    }

    /// The elements of a one-dimensional PostgreSQL array in text format, as the server
    /// sends a `text[]` (or any array) column: `{a,"b c",NULL}` gives `["a", "b c", nil]`.
    ///
    /// Accepts both quoted and unquoted elements, backslash escapes and an explicit
    /// dimension (`[0:1]={a,b}`).
    ///
    /// - Throws: ``PostgresError/Kind/unsupportedResult`` for a malformed literal or an
    ///   array of more than one dimension.
    public static func decodeTextArray(_ literal: String) throws(PostgresError) -> [String?] {
        var parser = ArrayLiteralParser(literal)
        return try parser.parse()
    }

    /// The elements of a one-dimensional PostgreSQL integer array in text format (`{1,2}`).
    ///
    /// - Throws: ``PostgresError/Kind/unsupportedResult`` for a malformed literal, a `NULL`
    ///   element or an element that is not a 64-bit integer.
    public static func decodeInt64Array(_ literal: String) throws(PostgresError) -> [Int64] {
        var values: [Int64] = []
        for element in try decodeTextArray(literal) {
            guard let element, let value = Int64(element) else {
                throw PostgresError(
                    kind: .unsupportedResult,
                    message: "array element \(element.map { "\"\($0)\"" } ?? "NULL") is not a 64-bit integer")
            }
            values.append(value)
        }
        return values
    }
}

/// Parses PostgreSQL's text representation of a one-dimensional array. The syntax
/// characters are ASCII, so the parser walks UTF-8 bytes and copies everything else as is.
private struct ArrayLiteralParser {
    private let bytes: [UInt8]
    private let literal: String
    private var position = 0

    init(_ literal: String) {
        self.literal = literal
        self.bytes = Array(literal.utf8)
    }

    mutating func parse() throws(PostgresError) -> [String?] {
        skipWhitespace()
        if peek() == UInt8(ascii: "[") {
            // Dimension decoration: [lower:upper]={…}
            while let byte = peek(), byte != UInt8(ascii: "=") { position += 1 }
            try expect("=")
            skipWhitespace()
        }
        try expect("{")
        var elements: [String?] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                elements.append(try element())
                skipWhitespace()
                guard let byte = next() else { throw malformed("it ends inside the array") }
                if byte == UInt8(ascii: "}") { break }
                guard byte == UInt8(ascii: ",") else { throw malformed("unexpected character") }
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw malformed("text after the closing brace") }
        return elements
    }

    private mutating func element() throws(PostgresError) -> String? {
        var value: [UInt8] = []
        switch peek() {
        case UInt8(ascii: "\""):
            position += 1
            while true {
                guard var byte = next() else { throw malformed("an unterminated quoted element") }
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\") {
                    guard let escaped = next() else { throw malformed("a trailing backslash") }
                    byte = escaped
                }
                value.append(byte)
            }
            return String(decoding: value, as: UTF8.self)
        case UInt8(ascii: "{"):
            throw malformed("multi-dimensional arrays are not supported")
        default:
            var escapedAny = false
            // Length of `value` up to its last escaped or non-space byte, for trimming.
            var kept = 0
            while let byte = peek(), byte != UInt8(ascii: ","), byte != UInt8(ascii: "}") {
                position += 1
                if byte == UInt8(ascii: "\\") {
                    guard let escaped = next() else { throw malformed("a trailing backslash") }
                    value.append(escaped)
                    escapedAny = true
                    kept = value.count
                } else {
                    guard byte != UInt8(ascii: "\""), byte != UInt8(ascii: "{") else {
                        throw malformed("unexpected character in an unquoted element")
                    }
                    value.append(byte)
                    if !Self.isWhitespace(byte) { kept = value.count }
                }
            }
            value.removeLast(value.count - kept)
            guard !value.isEmpty else { throw malformed("an empty unquoted element") }
            let text = String(decoding: value, as: UTF8.self)
            if !escapedAny, text.lowercased() == "null" { return nil }
            return text
        }
    }

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private mutating func next() -> UInt8? {
        defer { position += 1 }
        return peek()
    }

    private mutating func expect(_ character: Unicode.Scalar) throws(PostgresError) {
        guard next() == UInt8(ascii: character) else {
            throw malformed("expected \"\(character)\"")
        }
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), Self.isWhitespace(byte) { position += 1 }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    private func malformed(_ reason: String) -> PostgresError {
        let shown = literal.count > 80 ? String(literal.prefix(80)) + "…" : literal
        return PostgresError(
            kind: .unsupportedResult,
            message: "malformed PostgreSQL array literal \(shown): \(reason) at byte \(min(position, bytes.count))")
    }
}
