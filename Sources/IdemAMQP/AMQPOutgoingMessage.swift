/// A message to publish with ``AMQPConnection/publish(_:)``.
public struct AMQPOutgoingMessage: Sendable, Hashable {
    /// The exchange; empty for the default exchange, which routes to the queue named by
    /// ``routingKey``.
    public var exchange: String
    /// The routing key.
    public var routingKey: String
    /// The message body.
    public var body: [UInt8]
    /// The message properties and headers.
    public var properties: AMQPProperties
    /// Ask the broker to return the message when no queue takes it.
    public var mandatory: Bool

    /// Creates a message.
    public init(
        exchange: String = "", routingKey: String, body: [UInt8], properties: AMQPProperties = AMQPProperties(),
        mandatory: Bool = false
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        self.mandatory = mandatory
    }
}
