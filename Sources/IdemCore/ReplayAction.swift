/// What `idem dlq` did with a dead letter, as its audit records it.
public enum ReplayAction: String, Sendable, Hashable, CaseIterable {
    /// Put back on the consumer's source (`idem dlq replay`).
    case replay
    /// Thrown away (`idem dlq discard`): taken off the dead-letter queue, or on a Kafka
    /// topic, which keeps its records, marked so that no replay takes it by accident.
    case discard

    /// The past tense, for messages: `replayed`, `discarded`.
    public var done: String {
        switch self {
        case .replay: return "replayed"
        case .discard: return "discarded"
        }
    }
}
