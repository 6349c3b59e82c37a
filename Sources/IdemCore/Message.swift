/// A message as idem sees it, whichever broker delivered it.
///
/// The adapters turn an AMQP delivery or a Kafka record into a `Message`; everything after
/// that (identity, dedup, handlers, outcomes) works on this type alone.
///
/// A value type whose fields share one copy-on-write box: passing a message around (into
/// claim requests, batches, decisions) costs one reference count, not one per field.
public struct Message: Sendable, Hashable {
    private var storage: Storage

    /// The body, as delivered.
    public var body: [UInt8] {
        get { storage.body }
        set { unique().body = newValue }
    }
    /// AMQP header-table entries or Kafka record headers. Kafka allows a header name more
    /// than once; the last value wins here.
    public var headers: [String: HeaderValue] {
        get { storage.headers }
        set { unique().headers = newValue }
    }
    /// AMQP basic properties (empty for Kafka).
    public var properties: MessageProperties {
        get { storage.properties }
        set { unique().properties = newValue }
    }
    /// The Kafka record key (`nil` for AMQP and for records without a key).
    public var key: [UInt8]? {
        get { storage.key }
        set { unique().key = newValue }
    }
    /// Where the message came from.
    public var source: MessageSource {
        get { storage.source }
        set { unique().source = newValue }
    }

    /// Creates a message.
    public init(
        body: [UInt8],
        headers: [String: HeaderValue] = [:],
        properties: MessageProperties = MessageProperties(),
        key: [UInt8]? = nil,
        source: MessageSource
    ) {
        storage = Storage(body: body, headers: headers, properties: properties, key: key, source: source)
    }

    public static func == (lhs: Message, rhs: Message) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    public func hash(into hasher: inout Hasher) {
        storage.fields.hash(into: &hasher)
    }

    /// The storage, copied first if another message shares it.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&storage) {
            storage = Storage(
                body: storage.body, headers: storage.headers, properties: storage.properties, key: storage.key,
                source: storage.source)
        }
        return storage
    }

    /// Mutated only through `unique()`, i.e. while no other message refers to it.
    private final class Storage: @unchecked Sendable {
        var body: [UInt8]
        var headers: [String: HeaderValue]
        var properties: MessageProperties
        var key: [UInt8]?
        var source: MessageSource

        init(
            body: [UInt8], headers: [String: HeaderValue], properties: MessageProperties, key: [UInt8]?,
            source: MessageSource
        ) {
            self.body = body
            self.headers = headers
            self.properties = properties
            self.key = key
            self.source = source
        }

        var fields: Fields { Fields(body: body, headers: headers, properties: properties, key: key, source: source) }
    }

    private struct Fields: Hashable {
        var body: [UInt8]
        var headers: [String: HeaderValue]
        var properties: MessageProperties
        var key: [UInt8]?
        var source: MessageSource
    }
}
