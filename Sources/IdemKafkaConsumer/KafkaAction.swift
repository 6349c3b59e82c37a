import IdemCore

/// The Kafka column of the outcome table: what a Kafka consumer does for a disposition.
public enum KafkaAction: Sendable, Hashable {
    /// Mark the record's offset processed; offsets are committed per partition only up to
    /// the highest offset below which every record is done.
    case markProcessed
    /// Pause the partition, wait `delay`, seek back to the record and resume: the record is
    /// retried in place and the partition's order is kept.
    case pauseAndRetryInPlace(delay: Duration)
    /// Produce to the dead-letter topic with `x-idem-*` headers, wait for the delivery
    /// report, then mark the offset processed.
    case produceToDeadLetterThenMarkProcessed(DeadLetterReason)
    /// Pause every partition, reconnect to PostgreSQL, commit nothing meanwhile.
    case pauseAllAndReconnect

    /// The action for `disposition`.
    public init(_ disposition: Disposition) {
        switch disposition {
        case .acknowledge: self = .markProcessed
        case .retry(let delay, _, _): self = .pauseAndRetryInPlace(delay: delay)
        case .deadLetter(let reason): self = .produceToDeadLetterThenMarkProcessed(reason)
        case .suspend: self = .pauseAllAndReconnect
        }
    }
}
