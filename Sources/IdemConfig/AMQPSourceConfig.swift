import IdemCore

/// A RabbitMQ queue to consume from, and where its retries and dead letters go.
public struct AMQPSourceConfig: Sendable, Hashable {
    /// `amqp://user:pass@host:port/vhost` or `amqps://…`; may hold a password.
    public var url: String
    /// The queue to consume.
    public var queue: String
    /// `basic.qos` prefetch: unacknowledged deliveries in flight. The default, 2,000, is
    /// twice the default `batch.max_size`: under a backlog the next full batch is already
    /// buffered while one commits (400 left the batches waiting for deliveries: 23,000
    /// messages/s instead of 32,000 on the benchmark machine).
    public var prefetch: Int
    /// Whether to declare the queue, its dead-letter queue and the retry delay queues.
    public var declare: Bool
    /// The exchange dead letters are published to (`""`: the default exchange).
    public var deadLetterExchange: String
    /// The routing key of dead letters (default `<queue>.dlq`, the dead-letter queue's name
    /// through the default exchange).
    public var deadLetterRoutingKey: String
    /// How transient failures are retried.
    public var retryVia: RetryVia
    /// AMQP heartbeat interval (`0`: off).
    public var heartbeat: Duration
    /// The connection name shown in the RabbitMQ management UI.
    public var connectionName: String?
    /// TLS settings for `amqps://`.
    public var tls: TLSSettings

    /// Retry routes.
    public enum RetryVia: String, Sendable, Hashable, CaseIterable {
        /// Publish to a delay queue whose per-message TTL dead-letters back to the work queue.
        case delayQueue = "delay_queue"
        /// `basic.nack` with requeue: immediate, no backoff.
        case requeue
    }

    /// Creates settings.
    public init(
        url: String, queue: String, prefetch: Int = 2000, declare: Bool = false,
        deadLetterExchange: String = "", deadLetterRoutingKey: String? = nil,
        retryVia: RetryVia = .delayQueue, heartbeat: Duration = .seconds(30),
        connectionName: String? = nil, tls: TLSSettings = TLSSettings()
    ) {
        self.url = url
        self.queue = queue
        self.prefetch = prefetch
        self.declare = declare
        self.deadLetterExchange = deadLetterExchange
        self.deadLetterRoutingKey = deadLetterRoutingKey ?? "\(queue).dlq"
        self.retryVia = retryVia
        self.heartbeat = heartbeat
        self.connectionName = connectionName
        self.tls = tls
    }

    /// What its messages carry beyond a body and headers: a `message-id` property.
    public static let messageFeatures: MessageFeatures = [.messageIDProperty]
}
