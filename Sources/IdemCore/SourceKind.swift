/// Which broker adapter delivered a message, named by the key of its settings in the
/// configuration (`source: {KIND: ...}`).
///
/// The core knows no kind by name: each broker adapter declares its own as a static
/// member, so a new broker adds a kind without changing this type.
public struct SourceKind: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The configuration key.
    public var rawValue: String

    /// The kind named `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The kind named `value`.
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The kind's configuration name.
    public var description: String { rawValue }

    /// Orders by name.
    public static func < (lhs: SourceKind, rhs: SourceKind) -> Bool { lhs.rawValue < rhs.rawValue }
}
