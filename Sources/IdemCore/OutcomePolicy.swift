/// The outcome table of docs/design.md as a pure function: from what happened to a message to
/// what to do with it.
public struct OutcomePolicy: Sendable, Hashable {
    /// Attempts and backoff for transient failures.
    public var retry: RetryPolicy
    /// What to do with a payload conflict.
    public var onPayloadConflict: PayloadConflictAction
    /// The delay before retrying after a deadlock or serialization failure.
    public var storeConflictDelay: Duration
    /// The delay before retrying a message whose ID is held by a live lease, when the store
    /// does not say how long the lease still runs.
    public var liveLeaseDelay: Duration

    /// Creates a policy.
    public init(
        retry: RetryPolicy = .default,
        onPayloadConflict: PayloadConflictAction = .deadLetter,
        storeConflictDelay: Duration = .milliseconds(50),
        liveLeaseDelay: Duration = .seconds(1)
    ) {
        self.retry = retry
        self.onPayloadConflict = onPayloadConflict
        self.storeConflictDelay = storeConflictDelay
        self.liveLeaseDelay = liveLeaseDelay
    }

    /// Decides what to do after `event`, drawing jitter from `generator`.
    public func decide(
        _ event: ProcessingEvent, using generator: inout some RandomNumberGenerator
    ) -> Disposition {
        switch event {
        case .poison(let reason):
            return .deadLetter(.poison(reason))
        case .duplicate:
            return .acknowledge(.duplicate)
        case .alreadyDeadLettered(let attempts, let lastError):
            return .deadLetter(.deadLetteredBefore(attempts: attempts, lastError: lastError))
        case .deadLetterConfirmed:
            return .acknowledge(.deadLetteredBefore)
        case .payloadConflict(let stored, let received):
            switch onPayloadConflict {
            case .deadLetter: return .deadLetter(.payloadConflict(storedHash: stored, receivedHash: received))
            case .acknowledge: return .acknowledge(.payloadConflictAccepted)
            }
        case .heldByLiveLease(let remaining):
            let delay = remaining.map { max($0, .milliseconds(10)) } ?? liveLeaseDelay
            return .retry(after: delay, countsAsAttempt: false, reason: "the ID is held by a live lease")
        case .storeUnavailable:
            return .suspend
        case .deferred:
            return .retry(
                after: .zero, countsAsAttempt: false, reason: "an earlier message in its order is being retried")
        case .storeConflict:
            return .retry(
                after: storeConflictDelay, countsAsAttempt: false,
                reason: "deadlock or serialization failure in PostgreSQL")
        case .handled(.success, _):
            return .acknowledge(.processed)
        case .handled(.reject(let reason), let attempt):
            return .deadLetter(.rejected(reason, attempt: attempt))
        case .handled(.retry(let reason), let attempt), .handlerFailed(let reason, let attempt):
            guard retry.hasAttemptsLeft(after: attempt) else {
                return .deadLetter(.attemptsExhausted(attempts: attempt, lastError: reason))
            }
            return .retry(
                after: retry.backoff(afterAttempt: attempt, using: &generator), countsAsAttempt: true,
                reason: reason)
        }
    }

    /// Decides what to do after `event`, with the system's random generator for jitter.
    public func decide(_ event: ProcessingEvent) -> Disposition {
        var generator = SystemRandomNumberGenerator()
        return decide(event, using: &generator)
    }
}
