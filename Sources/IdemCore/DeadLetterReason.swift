/// Why a message went to the dead letters: the `x-idem-reason` and `x-idem-last-error`
/// headers are made from it.
public enum DeadLetterReason: Sendable, Hashable, CustomStringConvertible {
    /// The message could not be processed at all.
    case poison(PoisonReason)
    /// The handler rejected it (a permanent failure) on attempt `attempt`.
    case rejected(String, attempt: Int)
    /// Every attempt failed transiently; `lastError` is the last failure.
    case attemptsExhausted(attempts: Int, lastError: String)
    /// A message with an ID already processed arrived with a different body.
    case payloadConflict(storedHash: String, receivedHash: String)
    /// The ID was dead-lettered before and was delivered again.
    case deadLetteredBefore(attempts: Int, lastError: String)
    /// The broker delivered the message for the last time its delivery limit allows (a
    /// RabbitMQ quorum queue's `x-delivery-count` reached `x-delivery-limit`), and idem would
    /// have handed it back (a retry by requeue, PostgreSQL out of reach, a shutdown): the
    /// broker would have dropped it. `lastError` is the retry's reason, when there was one.
    case deliveryLimit(deliveryCount: Int, limit: Int, attempts: Int, lastError: String?)

    /// The `x-idem-reason` header value.
    public var code: String {
        switch self {
        case .poison(let reason): return reason.code
        case .rejected: return "rejected"
        case .attemptsExhausted: return "attempts-exhausted"
        case .payloadConflict: return "payload-conflict"
        case .deadLetteredBefore: return "dead-lettered-before"
        case .deliveryLimit: return "delivery-limit"
        }
    }

    /// The attempts made, for `x-idem-attempts` (0 when the handler never ran).
    public var attempts: Int {
        switch self {
        case .poison, .payloadConflict: return 0
        case .rejected(_, let attempt): return attempt
        case .attemptsExhausted(let attempts, _), .deadLetteredBefore(let attempts, _): return attempts
        case .deliveryLimit(_, _, let attempts, _): return attempts
        }
    }

    /// The `x-idem-last-error` header value.
    public var description: String {
        switch self {
        case .poison(let reason):
            return reason.description
        case .rejected(let error, _):
            return error
        case .attemptsExhausted(let attempts, let lastError):
            return "\(attempts) attempt\(attempts == 1 ? "" : "s") failed; last error: \(lastError)"
        case .payloadConflict(let stored, let received):
            return "the ID was processed with a body of SHA-256 \(stored), this body's is \(received)"
        case .deadLetteredBefore(_, let lastError):
            return "dead-lettered before; last error: \(lastError)"
        case .deliveryLimit(let count, let limit, _, let lastError):
            let text =
                "delivered \(count + 1) times (x-delivery-count \(count)), the last its queue's delivery limit of \(limit) allows: handed back, the broker would drop it"
            return lastError.map { "\(text); last error: \($0)" } ?? text
        }
    }
}
