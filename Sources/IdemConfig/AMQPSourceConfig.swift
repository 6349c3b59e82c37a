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
    /// The queue's type: what idem declares, and what it checks the broker has.
    public var queueType: QueueType
    /// A quorum queue's `x-delivery-limit`: set when idem declares the queue; otherwise
    /// what the broker has (by argument or policy). `nil`: the broker's default, unlimited
    /// before RabbitMQ 4.0 and 20 from 4.0.
    public var deliveryLimit: Int?
    /// The broker's `consumer_timeout`: how long it lets a delivery go unacknowledged before
    /// it closes the channel (RabbitMQ's default: 30 minutes). idem cannot read it over
    /// AMQP; it checks its handler timeout against this value.
    public var consumerTimeout: Duration
    /// A stream's start when idem has stored no position for the consumer yet.
    public var streamStart: StreamStart
    /// A stream's `x-max-age` when idem declares it: segments older than this are removed.
    public var streamMaxAge: Duration?
    /// A stream's `x-max-length-bytes` when idem declares it: the oldest segments are removed
    /// past this size.
    public var streamMaxLengthBytes: Int64?

    /// Where a stream consumer without a stored position starts reading.
    public enum StreamStart: String, Sendable, Hashable, CaseIterable {
        /// At the first record the stream still holds.
        case first
        /// At the last chunk the stream holds.
        case last
        /// At the next record published.
        case next
    }

    /// RabbitMQ queue types.
    public enum QueueType: String, Sendable, Hashable, CaseIterable {
        /// A classic queue.
        case classic
        /// A quorum queue (replicated, RabbitMQ's recommendation for durable work): it counts
        /// deliveries (`x-delivery-count`) and may drop or dead-letter a message past its
        /// delivery limit.
        case quorum
        /// A stream: an append-only log that consuming does not remove from. idem stores the
        /// consumer's position in PostgreSQL and attaches there (`x-stream-offset`); a retry
        /// is in place (idem reads the stream again from the record after the delay), since a
        /// stream refuses a nack and RabbitMQ does not dead-letter into one.
        case stream
    }

    /// RabbitMQ's default `consumer_timeout`: 30 minutes.
    public static let defaultConsumerTimeout = Duration.seconds(1800)
    /// The delivery limit of quorum queues that set none, from RabbitMQ 4.0.
    public static let rabbitMQ4DefaultDeliveryLimit = 20

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
        connectionName: String? = nil, tls: TLSSettings = TLSSettings(), queueType: QueueType = .classic,
        deliveryLimit: Int? = nil, consumerTimeout: Duration = AMQPSourceConfig.defaultConsumerTimeout,
        streamStart: StreamStart = .first, streamMaxAge: Duration? = nil, streamMaxLengthBytes: Int64? = nil
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
        self.queueType = queueType
        self.deliveryLimit = deliveryLimit
        self.consumerTimeout = consumerTimeout
        self.streamStart = streamStart
        self.streamMaxAge = streamMaxAge
        self.streamMaxLengthBytes = streamMaxLengthBytes
    }

    /// What its messages carry beyond a body and headers: a `message-id` property.
    public static let messageFeatures: MessageFeatures = [.messageIDProperty]
}
