/// One value of an AMQP 0-9-1 field table or field array: every field type librabbitmq
/// knows, as RabbitMQ encodes it.
///
/// Values decode from headers and arguments exactly as they were sent and encode back
/// unchanged, with two exceptions: a long string (`S`) that is not valid UTF-8 decodes as
/// ``bytes(_:)`` (a Swift `String` cannot hold it), and RabbitMQ passes ``u64(_:)`` through
/// untouched but turns it into ``i64(_:)`` whenever it rewrites a table (dead-lettering,
/// which delay queues use), so prefer ``i64(_:)``. Every other type survives RabbitMQ's
/// rewriting.
///
/// Literals: a string literal (interpolated or not) is ``utf8(_:)``, an integer literal ``i64(_:)``, a float
/// literal ``f64(_:)``, `true`/`false` ``boolean(_:)``, an array literal ``array(_:)`` and
/// a dictionary literal ``table(_:)``:
///
/// ```swift
/// let arguments: AMQPTable = ["x-message-ttl": .i32(60_000), "x-dead-letter-exchange": ""]
/// ```
public enum AMQPFieldValue: Sendable, Hashable {
    /// `t`: a boolean.
    case boolean(Bool)
    /// `b`: a signed 8-bit integer.
    case i8(Int8)
    /// `B`: an unsigned 8-bit integer.
    case u8(UInt8)
    /// `s`: a signed 16-bit integer.
    case i16(Int16)
    /// `u`: an unsigned 16-bit integer.
    case u16(UInt16)
    /// `I`: a signed 32-bit integer.
    case i32(Int32)
    /// `i`: an unsigned 32-bit integer.
    case u32(UInt32)
    /// `l`: a signed 64-bit integer.
    case i64(Int64)
    /// `L`: an unsigned 64-bit integer (RabbitMQ does not accept it).
    case u64(UInt64)
    /// `f`: a 32-bit float.
    case f32(Float)
    /// `d`: a 64-bit float.
    case f64(Double)
    /// `D`: a decimal, `value × 10^-scale`.
    case decimal(scale: UInt8, value: UInt32)
    /// `S`: a long string holding valid UTF-8.
    case utf8(String)
    /// `x`: a byte array (also what a long string that is not valid UTF-8 decodes to).
    case bytes([UInt8])
    /// `A`: a field array.
    case array([AMQPFieldValue])
    /// `F`: a nested field table.
    case table(AMQPTable)
    /// `T`: a timestamp, in seconds since the Unix epoch.
    case timestamp(UInt64)
    /// `V`: present, without a value.
    case void

    /// The text of ``utf8(_:)``, or of ``bytes(_:)`` when they are valid UTF-8; otherwise
    /// `nil`.
    public var stringValue: String? {
        switch self {
        case .utf8(let text): return text
        case .bytes(let bytes): return String(validating: bytes, as: UTF8.self)
        default: return nil
        }
    }

    /// The value of any integer type (not timestamps) when it fits in `Int64`; otherwise
    /// `nil`.
    public var integerValue: Int64? {
        switch self {
        case .i8(let value): return Int64(value)
        case .u8(let value): return Int64(value)
        case .i16(let value): return Int64(value)
        case .u16(let value): return Int64(value)
        case .i32(let value): return Int64(value)
        case .u32(let value): return Int64(value)
        case .i64(let value): return value
        case .u64(let value): return Int64(exactly: value)
        default: return nil
        }
    }

    /// The value of ``boolean(_:)``; otherwise `nil`.
    public var boolValue: Bool? {
        if case .boolean(let value) = self { return value }
        return nil
    }

    /// The nested table of ``table(_:)``; otherwise `nil`.
    public var tableValue: AMQPTable? {
        if case .table(let value) = self { return value }
        return nil
    }

    /// The elements of ``array(_:)``; otherwise `nil`.
    public var arrayValue: [AMQPFieldValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}

extension AMQPFieldValue: ExpressibleByStringInterpolation {
    /// A ``utf8(_:)`` value.
    public init(stringLiteral value: String) {
        self = .utf8(value)
    }
}

extension AMQPFieldValue: ExpressibleByIntegerLiteral {
    /// An ``i64(_:)`` value.
    public init(integerLiteral value: Int64) {
        self = .i64(value)
    }
}

extension AMQPFieldValue: ExpressibleByFloatLiteral {
    /// An ``f64(_:)`` value.
    public init(floatLiteral value: Double) {
        self = .f64(value)
    }
}

extension AMQPFieldValue: ExpressibleByBooleanLiteral {
    /// A ``boolean(_:)`` value.
    public init(booleanLiteral value: Bool) {
        self = .boolean(value)
    }
}

extension AMQPFieldValue: ExpressibleByArrayLiteral {
    /// An ``array(_:)`` value.
    public init(arrayLiteral elements: AMQPFieldValue...) {
        self = .array(elements)
    }
}

extension AMQPFieldValue: ExpressibleByDictionaryLiteral {
    /// A ``table(_:)`` value, entries in literal order.
    public init(dictionaryLiteral elements: (String, AMQPFieldValue)...) {
        self = .table(AMQPTable(elements.map { (key: $0.0, value: $0.1) }))
    }
}
