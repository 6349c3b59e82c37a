/// A message's identity within its consumer, and the ID source that produced it.
public struct MessageID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The ID text (at most ``IdentityChain/maximumIDLength`` bytes of UTF-8).
    public let value: String
    /// The ID source that yielded it.
    public let source: IDSource

    /// Creates an ID; callers normally get one from ``IdentityChain/derive(_:)``.
    public init(_ value: String, source: IDSource) {
        self.value = value
        self.source = source
    }

    /// The ID text.
    public var description: String { value }

    /// Orders IDs by their text, byte-wise: the fixed order in which batches claim rows, so
    /// that concurrent batches cannot deadlock on each other.
    public static func < (lhs: MessageID, rhs: MessageID) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}
