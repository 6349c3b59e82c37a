/// What to do with a message once the outcome policy has decided; each adapter maps it to
/// its broker's operations (each broker adapter has its column of the outcome table).
public enum Disposition: Sendable, Hashable {
    /// The message is finished: acknowledge it (a queue's ack, a log's offset marked processed).
    case acknowledge(Acknowledgement)
    /// Try the message again after `delay`. `countsAsAttempt` is false when the handler did
    /// not run (a live lease elsewhere, a deadlock), so no attempt was used up.
    case retry(after: Duration, countsAsAttempt: Bool, reason: String)
    /// Publish the message to the dead letters with this reason, then acknowledge it.
    case deadLetter(DeadLetterReason)
    /// Acknowledge nothing and stop taking messages until PostgreSQL is back.
    case suspend

    /// Why a message is acknowledged.
    public enum Acknowledgement: Sendable, Hashable {
        /// The handler succeeded and its effect is committed.
        case processed
        /// The message was already processed.
        case duplicate
        /// A payload conflict that the policy accepts as a duplicate.
        case payloadConflictAccepted
        /// A redelivery of a message whose dead letter the broker confirmed before.
        case deadLetteredBefore
    }
}
