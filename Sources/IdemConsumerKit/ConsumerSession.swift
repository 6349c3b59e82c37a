/// One connection of a consumer to its broker, from connect to close, as a broker adapter
/// implements it. The ``ConsumerSupervisor`` runs sessions one after another: it owns the
/// reconnect backoff, the pause while the dedup store is away, and `/readyz`.
public protocol ConsumerSession: Sendable {
    /// Connects and consumes until a graceful shutdown (then returns, after finishing the
    /// batches in flight) or a failure (then throws, having handed back to the broker what
    /// it did not settle). Calls ``ConsumerStatus/connected()`` once it takes messages.
    ///
    /// Throw ``StoreUnavailable`` when the dedup store stopped answering and the session
    /// gave its messages back unsettled: the supervisor waits for the store, then starts a
    /// new session at once. Any other error is a broker failure: the supervisor starts a
    /// new session after a backoff.
    func run(_ status: ConsumerStatus) async throws
}
