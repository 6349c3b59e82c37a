/// One row of the dead-letter audit: a message that `idem dlq replay` put back on its
/// source, or that `idem dlq discard` threw away.
public struct ReplayRecord: Sendable, Hashable {
    /// The audit row's ID (also the `x-idem-replay-id` header of the replayed message).
    public var id: Int64
    /// The message ID (or `sha256:<hex>` for a message without one).
    public var messageId: String
    /// When it was replayed, seconds since the Unix epoch (with a fraction).
    public var replayedAt: Double
    /// Who replayed it (`user@host`, or what `--by` said).
    public var replayedBy: String
    /// Whether `--force` overrode an earlier replay.
    public var forced: Bool
    /// Where the dead letter was (its ``MessageSource/description``).
    public var deadLetterSource: String
    /// Where it was replayed to.
    public var target: String
    /// Whether its dedup row was deleted, so that it was processed afresh.
    public var rowReset: Bool
    /// What was done: put back on the source, or discarded.
    public var action: ReplayAction

    /// Creates a record.
    public init(
        id: Int64, messageId: String, replayedAt: Double, replayedBy: String, forced: Bool = false,
        deadLetterSource: String = "", target: String = "", rowReset: Bool = false, action: ReplayAction = .replay
    ) {
        self.id = id
        self.messageId = messageId
        self.replayedAt = replayedAt
        self.replayedBy = replayedBy
        self.forced = forced
        self.deadLetterSource = deadLetterSource
        self.target = target
        self.rowReset = rowReset
        self.action = action
    }
}
