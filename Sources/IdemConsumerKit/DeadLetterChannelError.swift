/// A dead-letter queue or topic that `idem dlq` cannot use, or a dead letter it cannot
/// put back.
public struct DeadLetterChannelError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// Creates an error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
