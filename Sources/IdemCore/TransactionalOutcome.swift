/// The outcome of one message of a transactional batch, once the transaction committed.
public enum TransactionalOutcome: Sendable, Hashable {
    /// The claim found the ID already done, held, conflicting or dead-lettered.
    case notClaimed(ClaimResult)
    /// The handler ran as attempt `attempt` and returned `result`. On success its effect
    /// committed; on failure the row records the attempt and the error (and is marked
    /// dead-lettered when the failure is final).
    case handled(HandlerResult, attempt: Int)
    /// The handler found the message unusable (e.g. a missing JSON field for a `sql`
    /// parameter); the row is marked dead-lettered.
    case poison(PoisonReason)
    /// Keeping order, an earlier message of the batch failed transiently: this one took no
    /// effect and was not claimed; it is to be processed again after that one.
    case deferred
}
