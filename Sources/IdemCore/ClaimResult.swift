/// What claiming an ID in the dedup table found.
public enum ClaimResult: Sendable, Hashable {
    /// The ID is this worker's to process: new, failed before, or an expired lease taken
    /// over. `attempt` counts across redeliveries; `fence` increases with every claim.
    case claimed(attempt: Int, fence: Int64)
    /// The ID is done: a duplicate.
    case duplicate
    /// The ID is done, but with another payload hash.
    case payloadConflict(storedHash: String)
    /// Lease mode: another worker holds a live lease for `remaining` more.
    case held(remaining: Duration)
    /// The ID was given up on (rejected, attempts exhausted or poison) and its dead letter
    /// is not known to be confirmed: a redelivery goes to the dead letters again, since the
    /// first dead-lettering may not have completed.
    case deadLettered(attempts: Int, lastError: String)
    /// The ID was given up on and its dead letter was confirmed by the broker
    /// (``DedupStore/confirmDeadLetters(consumer:ids:)``): a redelivery is acknowledged,
    /// not dead-lettered again.
    case deadLetterConfirmed
}
