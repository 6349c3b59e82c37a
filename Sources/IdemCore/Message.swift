/// A message as idem sees it, whichever broker delivered it.
///
/// The broker adapters turn what their broker delivers into a `Message`; everything after
/// that (identity, dedup, handlers, outcomes) works on this type alone.
///
/// A value type whose fields share one immutable box: passing a message around (into claim
/// requests, batches, decisions) costs one reference count, not one per field.
public struct Message: Sendable, Hashable {
    private var storage: Storage

    /// The body, as delivered.
    public var body: [UInt8] {
        get { storage.body }
        set { storage = storage.with(body: newValue) }
    }
    /// The headers. Where a broker allows a header name more than once, the last value
    /// wins here.
    public var headers: [String: HeaderValue] {
        get { storage.headers }
        set { storage = storage.with(headers: newValue) }
    }
    /// The message properties (empty for brokers without them).
    public var properties: MessageProperties {
        get { storage.properties }
        set { storage = storage.with(properties: newValue) }
    }
    /// The record key (`nil` for brokers without keys and for records without one).
    public var key: [UInt8]? {
        get { storage.key }
        set { storage = storage.with(key: .some(newValue)) }
    }
    /// Where the message came from.
    public var source: MessageSource {
        get { storage.source }
        set { storage = storage.with(source: newValue) }
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

    /// The fields, immutable: a change makes a new box (messages are rarely changed once
    /// made).
    private final class Storage: Sendable {
        let body: [UInt8]
        let headers: [String: HeaderValue]
        let properties: MessageProperties
        let key: [UInt8]?
        let source: MessageSource

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

        /// A copy with the given fields changed.
        func with(
            body: [UInt8]? = nil, headers: [String: HeaderValue]? = nil, properties: MessageProperties? = nil,
            key: [UInt8]?? = nil, source: MessageSource? = nil
        ) -> Storage {
            Storage(
                body: body ?? self.body, headers: headers ?? self.headers, properties: properties ?? self.properties,
                key: key ?? self.key, source: source ?? self.source)
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
