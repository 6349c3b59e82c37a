/// A message fetched from a queue, with what is needed to acknowledge it.
public struct AMQPDelivery: Sendable, Hashable {
    /// The message body.
    public var body: [UInt8]
    /// The delivery tag to pass to ``AMQPConnection/ack(deliveryTag:multiple:)``; it is
    /// valid only on the channel that received the message.
    public var deliveryTag: UInt64
    /// Whether the broker delivered this message before (to this or another consumer).
    public var redelivered: Bool
    /// The exchange the message was published to (empty for the default exchange).
    public var exchange: String
    /// The routing key the message was published with.
    public var routingKey: String
    /// How many messages remained in the queue after this one was taken.
    public var messageCount: UInt32
    /// The message properties.
    public var properties: AMQPProperties

    /// Creates a delivery; the client normally builds these from broker frames.
    public init(
        body: [UInt8],
        deliveryTag: UInt64,
        redelivered: Bool,
        exchange: String,
        routingKey: String,
        messageCount: UInt32,
        properties: AMQPProperties
    ) {
        self.body = body
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.messageCount = messageCount
        self.properties = properties
    }

    /// The `message-id` property.
    public var messageId: String? { properties.messageId }

    /// The header table.
    public var headers: [String: String] { properties.headers }
}
