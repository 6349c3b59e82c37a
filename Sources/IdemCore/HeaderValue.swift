/// A header value as brokers carry it: typed values of a field table, or plain bytes.
///
/// Field tables can nest tables and arrays and carry decimals and timestamps; other brokers'
/// headers are plain bytes. Both map into this one type so that the core never sees a broker type.
public enum HeaderValue: Sendable, Hashable {
    /// A text value (a string that is valid UTF-8).
    case string(String)
    /// Raw bytes (byte arrays, non-UTF-8 strings, plain header values).
    case bytes([UInt8])
    /// A boolean.
    case bool(Bool)
    /// A signed integer of any width.
    case int(Int64)
    /// An unsigned integer of any width.
    case uint(UInt64)
    /// A floating-point number (float or double).
    case double(Double)
    /// A decimal: `value × 10^-scale`.
    case decimal(scale: UInt8, value: Int32)
    /// A timestamp, in seconds since the Unix epoch.
    case timestamp(UInt64)
    /// A nested field array.
    case array([HeaderValue])
    /// A nested field table.
    case table([String: HeaderValue])
    /// Void: present, without a value.
    case void

    /// The value as identity text, or `nil` when the value cannot serve as a message ID.
    ///
    /// Strings are used as they are; bytes only when they are valid UTF-8 without NUL (a
    /// PostgreSQL `text` column cannot hold anything else, and any escaping of other bytes
    /// could collide with a real text ID); numbers, booleans, decimals and timestamps in
    /// their canonical decimal text. Arrays, tables and void never yield an ID.
    public var identityText: String? {
        switch self {
        case .string(let text):
            return text.utf8.contains(0) ? nil : text
        case .bytes(let bytes):
            return UTF8Text.decode(bytes)
        case .bool(let value):
            return value ? "true" : "false"
        case .int(let value):
            return String(value)
        case .uint(let value):
            return String(value)
        case .double(let value):
            return value.isFinite ? String(value) : nil
        case .decimal(let scale, let value):
            return Self.decimalText(scale: scale, value: value)
        case .timestamp(let seconds):
            return String(seconds)
        case .array, .table, .void:
            return nil
        }
    }

    private static func decimalText(scale: UInt8, value: Int32) -> String {
        guard scale > 0 else { return String(value) }
        let negative = value < 0
        var digits = String(value.magnitude)
        let scale = Int(scale)
        if digits.count <= scale {
            digits = String(repeating: "0", count: scale - digits.count + 1) + digits
        }
        let split = digits.index(digits.endIndex, offsetBy: -scale)
        return (negative ? "-" : "") + digits[..<split] + "." + digits[split...]
    }
}
