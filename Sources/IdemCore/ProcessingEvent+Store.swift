extension ProcessingEvent {
    /// The event for a message of a transactional batch; `receivedHash` is its body's hash.
    public init(_ outcome: TransactionalOutcome, receivedHash: String) {
        switch outcome {
        case .handled(let result, let attempt):
            self = .handled(result, attempt: attempt)
        case .poison(let reason):
            self = .poison(reason)
        case .notClaimed(let claim):
            self = ProcessingEvent(unclaimed: claim, receivedHash: receivedHash)
        case .deferred:
            self = .deferred
        }
    }

    /// The event for a claim that did not give the message to this worker. A `.claimed`
    /// result has no event of its own (the handler runs); it maps to a retry that uses no
    /// attempt, which callers never reach.
    public init(unclaimed claim: ClaimResult, receivedHash: String) {
        switch claim {
        case .duplicate:
            self = .duplicate
        case .payloadConflict(let stored):
            self = .payloadConflict(storedHash: stored, receivedHash: receivedHash)
        case .held(let remaining):
            self = .heldByLiveLease(remaining: remaining)
        case .deadLettered(let attempts, let lastError):
            self = .alreadyDeadLettered(attempts: attempts, lastError: lastError)
        case .deadLetterConfirmed:
            self = .deadLetterConfirmed
        case .claimed:
            self = .heldByLiveLease(remaining: nil)
        }
    }

    /// The event for every message of a batch the store could not process.
    public init(_ error: DedupStoreError) {
        self = error.code == .conflict ? .storeConflict : .storeUnavailable
    }
}
