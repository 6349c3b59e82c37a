/// The basic properties of a message (content type, message-id, ...); brokers without
/// them leave them all empty.
public struct MessageProperties: Sendable, Hashable {
    /// `message-id`.
    public var messageId: String?
    /// `correlation-id`.
    public var correlationId: String?
    /// `content-type`, e.g. `application/json`.
    public var contentType: String?
    /// `content-encoding`, e.g. `gzip`.
    public var contentEncoding: String?
    /// `type`.
    public var type: String?
    /// `app-id`.
    public var appId: String?
    /// `user-id`.
    public var userId: String?
    /// `reply-to`.
    public var replyTo: String?
    /// `expiration`, the per-message TTL in milliseconds as text.
    public var expiration: String?
    /// `timestamp`, seconds since the Unix epoch.
    public var timestamp: UInt64?
    /// `delivery-mode`: 1 transient, 2 persistent.
    public var deliveryMode: UInt8?
    /// `priority`, 0–9.
    public var priority: UInt8?

    /// Creates properties; every field defaults to absent.
    public init(
        messageId: String? = nil, correlationId: String? = nil, contentType: String? = nil,
        contentEncoding: String? = nil, type: String? = nil, appId: String? = nil,
        userId: String? = nil, replyTo: String? = nil, expiration: String? = nil,
        timestamp: UInt64? = nil, deliveryMode: UInt8? = nil, priority: UInt8? = nil
    ) {
        self.messageId = messageId
        self.correlationId = correlationId
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.type = type
        self.appId = appId
        self.userId = userId
        self.replyTo = replyTo
        self.expiration = expiration
        self.timestamp = timestamp
        self.deliveryMode = deliveryMode
        self.priority = priority
    }
}
