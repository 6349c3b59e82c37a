/// What happened to one message, as the outcome policy sees it.
public enum ProcessingEvent: Sendable, Hashable {
    /// The message is poison: no usable ID, an oversize or undecodable body.
    case poison(PoisonReason)
    /// Its ID is already done (or was dead-lettered before): a redelivery.
    case duplicate
    /// Its ID is done, but the stored payload hash differs from this body's.
    case payloadConflict(storedHash: String, receivedHash: String)
    /// The ID was dead-lettered before (rejected, poison or out of attempts) and came back:
    /// the first dead-lettering may not have completed, so it is dead-lettered again.
    case alreadyDeadLettered(attempts: Int, lastError: String)
    /// The ID was dead-lettered before and the broker confirmed that dead letter: this is
    /// a redelivery of a message already given up on.
    case deadLetterConfirmed
    /// Lease mode: another worker holds a live lease on the ID; `remaining` is how long
    /// the lease still runs, when the store knows.
    case heldByLiveLease(remaining: Duration?)
    /// PostgreSQL cannot be reached.
    case storeUnavailable
    /// The transaction hit a deadlock or serialization failure and was rolled back; it was
    /// not an attempt of the handler.
    case storeConflict
    /// The handler ran as attempt `attempt` (1-based, counted across redeliveries) and
    /// returned `result`.
    case handled(HandlerResult, attempt: Int)
    /// The handler threw or timed out on attempt `attempt`; that counts as transient.
    case handlerFailed(String, attempt: Int)
    /// Keeping order, an earlier message in its order failed transiently: this one was
    /// not processed and comes again after it.
    case deferred
}
