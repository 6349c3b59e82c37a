import IdemConsumerKit
import IdemCore
import IdemPostgresStore

/// A dead letter with what the replay audit knows of its message ID, for `idem dlq list`
/// and `idem dlq show`.
public struct DeadLetterEntry: Sendable {
    /// The dead letter.
    public var letter: DeadLetter
    /// Every replay of its message ID, oldest first.
    public var history: [ReplayRecord]

    /// Creates an entry.
    public init(letter: DeadLetter, history: [ReplayRecord]) {
        self.letter = letter
        self.history = history
    }

    /// The replay that already covered this copy (``ReplayGuard``): a replay without
    /// `--force` would be refused. `nil` when the copy may be replayed.
    public var coveringReplay: ReplayRecord? {
        ReplayGuard.earlierReplay(
            deadLetteredAt: letter.deadLetteredAt, replayId: letter.metadata.replayId, history: history)
    }
}
