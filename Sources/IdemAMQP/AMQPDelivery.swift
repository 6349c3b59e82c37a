/// A message delivered to a consumer (`basic.deliver`) or fetched with `basic.get`, with
/// what is needed to acknowledge it.
public struct AMQPDelivery: Sendable, Hashable {
    /// The message body.
    public var body: [UInt8]
    /// The delivery tag to pass to ``AMQPConnection/ack(deliveryTag:multiple:)``,
    /// ``AMQPConnection/nack(deliveryTag:multiple:requeue:)`` or
    /// ``AMQPConnection/reject(deliveryTag:requeue:)``; it is valid only on the channel
    /// (and so the connection) that received the message.
    public var deliveryTag: UInt64
    /// Whether the broker delivered this message before (to this or another consumer).
    public var redelivered: Bool
    /// The exchange the message was published to (empty for the default exchange).
    public var exchange: String
    /// The routing key the message was published with.
    public var routingKey: String
    /// The consumer the broker delivered the message to; `nil` for `basic.get`.
    public var consumerTag: String?
    /// How many messages remained in the queue after this one (`basic.get` only).
    public var messageCount: UInt32?
    /// The message properties, header table included.
    public var properties: AMQPProperties

    /// Creates a delivery; the client normally builds these from broker frames.
    public init(
        body: [UInt8],
        deliveryTag: UInt64,
        redelivered: Bool,
        exchange: String,
        routingKey: String,
        consumerTag: String? = nil,
        messageCount: UInt32? = nil,
        properties: AMQPProperties = AMQPProperties()
    ) {
        self.body = body
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.consumerTag = consumerTag
        self.messageCount = messageCount
        self.properties = properties
    }

    /// The `message-id` property.
    public var messageId: String? { properties.messageId }

    /// The header table.
    public var headers: AMQPTable { properties.headers }
}
