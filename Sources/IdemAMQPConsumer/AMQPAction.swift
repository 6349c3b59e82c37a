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
    /// Publish to the dead-letter exchange with `x-idem-*` headers under publisher confirms,
    /// then ack the delivery.
    case publishToDeadLetterThenAck(DeadLetterReason)
    /// Ack nothing, stop consuming, reconnect to PostgreSQL with backoff; unacked deliveries
    /// come back when the channel closes.
    case withholdAndPause

    /// The action for `disposition`; `delayQueues` says whether retry delay queues are
    /// configured for the consumer.
    public init(_ disposition: Disposition, delayQueues: Bool) {
        switch disposition {
        case .acknowledge: self = .ack
        case .retry(let delay, _, _): self = delayQueues ? .publishToDelayQueue(delay: delay) : .nackRequeue
        case .deadLetter(let reason): self = .publishToDeadLetterThenAck(reason)
        case .suspend: self = .withholdAndPause
        }
    }
}
