/// A Kafka record header: a key and an optional byte value. Keys may repeat.
public struct KafkaHeader: Sendable, Hashable {
    /// The header key.
    public var key: String
    /// The header value; `nil` is a null value, distinct from an empty one.
    public var value: [UInt8]?

    /// Creates a header with a byte value.
    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    /// Creates a header with a UTF-8 text value.
    public init(key: String, text: String) {
        self.init(key: key, value: Array(text.utf8))
    }
}
