/// What to do with a "duplicate" whose body differs from the body first processed under
/// the same ID: a producer bug, counted either way.
public enum PayloadConflictAction: String, Sendable, Hashable, CaseIterable {
    /// Dead-letter it with reason `payload-conflict` (the default: nothing is silently lost).
    case deadLetter = "dead_letter"
    /// Acknowledge it as a duplicate.
    case acknowledge = "ack"
}
