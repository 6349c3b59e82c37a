import IdemCore

/// The AMQP column of the outcome table: what a RabbitMQ consumer does for a disposition.
public enum AMQPAction: Sendable, Hashable {
    /// `basic.ack` the delivery.
    case ack
    /// Publish a copy to the delay queue with a per-message TTL of `delay` (it dead-letters
    /// back to the work queue), under publisher confirms, then ack the delivery.
    case publishToDelayQueue(delay: Duration)
    /// `basic.nack` with `requeue=true`: used when no delay queue is configured.
    case nackRequeue
    /// A stream's record: ack the delivery (a stream's ack only returns credit), stop
    /// reading, and attach again at the record's offset after `delay`; the stored position
    /// stays below the record until it is done. Neither a nack (a stream refuses it) nor a
    /// delay queue (RabbitMQ does not dead-letter into a stream) can retry it.
    case retryInPlace(delay: Duration)
    /// Publish to the dead-letter exchange with `x-idem-*` headers under publisher confirms,
    /// then ack the delivery.
    case publishToDeadLetterThenAck(DeadLetterReason)
    /// Ack nothing, stop consuming, reconnect to PostgreSQL with backoff; unacked deliveries
    /// come back when the channel closes.
    case withholdAndPause

    /// The action for `disposition`; `delayQueues` says whether retry delay queues are
    /// configured for the consumer.
    public init(_ disposition: Disposition, delayQueues: Bool) {
        self.init(disposition, retry: delayQueues ? .delayQueue : .requeue)
    }

    /// How a consumer retries a message.
    public enum RetryRoute: Sendable, Hashable {
        /// Through a delay queue.
        case delayQueue
        /// By nack-requeue.
        case requeue
        /// In place (a stream).
        case inPlace
    }

    /// The action for `disposition` on a consumer that retries by `retry`.
    public init(_ disposition: Disposition, retry: RetryRoute) {
        switch disposition {
        case .acknowledge: self = .ack
        case .retry(let delay, _, _):
            switch retry {
            case .delayQueue: self = .publishToDelayQueue(delay: delay)
            case .requeue: self = .nackRequeue
            case .inPlace: self = .retryInPlace(delay: delay)
            }
        case .deadLetter(let reason): self = .publishToDeadLetterThenAck(reason)
        case .suspend: self = .withholdAndPause
        }
    }
}
