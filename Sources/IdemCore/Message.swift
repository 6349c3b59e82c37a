/// A message as idem sees it, whichever broker delivered it.
///
/// The adapters turn an AMQP delivery or a Kafka record into a `Message`; everything after
/// that (identity, dedup, handlers, outcomes) works on this type alone.
public struct Message: Sendable, Hashable {
    /// The body, as delivered.
    public var body: [UInt8]
    /// AMQP header-table entries or Kafka record headers. Kafka allows a header name more
    /// than once; the last value wins here.
    public var headers: [String: HeaderValue]
    /// AMQP basic properties (empty for Kafka).
    public var properties: MessageProperties
    /// The Kafka record key (`nil` for AMQP and for records without a key).
    public var key: [UInt8]?
    /// Where the message came from.
    public var source: MessageSource

    /// Creates a message.
    public init(
        body: [UInt8],
        headers: [String: HeaderValue] = [:],
        properties: MessageProperties = MessageProperties(),
        key: [UInt8]? = nil,
        source: MessageSource
    ) {
        self.body = body
        self.headers = headers
        self.properties = properties
        self.key = key
        self.source = source
    }
}
