/// What the broker reported when a queue was declared.
public struct AMQPQueueInfo: Sendable, Hashable {
    /// The queue name (the generated one when an empty name was declared).
    public var name: String
    /// The number of messages ready in the queue.
    public var messageCount: UInt32
    /// The number of consumers on the queue.
    public var consumerCount: UInt32

    /// Creates queue information.
    public init(name: String, messageCount: UInt32, consumerCount: UInt32) {
        self.name = name
        self.messageCount = messageCount
        self.consumerCount = consumerCount
    }
}
