/// The `basic` content properties of an AMQP message.
///
/// Every property is optional; only the ones set are sent.
public struct AMQPProperties: Sendable, Hashable {
    /// How the broker stores a message.
    public enum DeliveryMode: UInt8, Sendable, Hashable {
        /// Kept in memory only (delivery-mode 1).
        case transient = 1
        /// Written to disk in durable queues (delivery-mode 2).
        case persistent = 2
    }

    /// The MIME content type, e.g. `application/json`.
    public var contentType: String?
    /// The content encoding, e.g. `gzip`.
    public var contentEncoding: String?
    /// The header table, every AMQP field type, nested tables and arrays included.
    public var headers: AMQPTable
    /// Transient or persistent.
    public var deliveryMode: DeliveryMode?
    /// The priority, 0 to 9 on priority queues.
    public var priority: UInt8?
    /// The correlation ID.
    public var correlationId: String?
    /// The reply-to queue name.
    public var replyTo: String?
    /// The per-message TTL in milliseconds, as text (e.g. `"60000"`).
    public var expiration: String?
    /// The message ID.
    public var messageId: String?
    /// The timestamp, in seconds since 1970.
    public var timestamp: UInt64?
    /// The message type name.
    public var type: String?
    /// The user ID; RabbitMQ checks it against the connection's user.
    public var userId: String?
    /// The application ID.
    public var appId: String?

    /// Creates properties; unset ones are not sent.
    public init(
        contentType: String? = nil,
        contentEncoding: String? = nil,
        headers: AMQPTable = [:],
        deliveryMode: DeliveryMode? = nil,
        priority: UInt8? = nil,
        correlationId: String? = nil,
        replyTo: String? = nil,
        expiration: String? = nil,
        messageId: String? = nil,
        timestamp: UInt64? = nil,
        type: String? = nil,
        userId: String? = nil,
        appId: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageId = messageId
        self.timestamp = timestamp
        self.type = type
        self.userId = userId
        self.appId = appId
    }
}
