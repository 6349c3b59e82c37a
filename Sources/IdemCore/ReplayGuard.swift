/// The rule that keeps `idem dlq replay` from replaying a dead letter twice by accident.
///
/// A copy in the dead letters counts as already replayed when the audit holds a replay of
/// the same message ID made at or after the copy was dead-lettered: that replay took care
/// of this copy (or of a copy of the same failure), and the copy stayed behind (a log
/// keeps every record; a second copy of the same ID). A copy dead-lettered after
/// the last replay is a new failure and may be replayed.
///
/// Times are compared in whole seconds (the precision of `x-idem-dead-lettered-at`), so a
/// copy dead-lettered in the same second as a replay counts as replayed: when in doubt,
/// refuse (`--force` overrides). A copy that failed again after replay N carries
/// `x-idem-replay-id: N`; replays up to N are then behind it whatever the clocks say.
/// When the dead-letter time is unknown, any replay of the ID counts.
public enum ReplayGuard {
    /// The latest replay in `history` that already covered this copy, or `nil` when the
    /// copy may be replayed.
    ///
    /// - Parameters:
    ///   - deadLetteredAt: when the copy was dead-lettered (seconds since the Unix
    ///     epoch), if known.
    ///   - replayId: the copy's `x-idem-replay-id`, if it came from a replay.
    ///   - history: the audit's replays of the message ID, in any order.
    public static func earlierReplay(
        deadLetteredAt: UInt64?, replayId: Int64?, history: [ReplayRecord]
    ) -> ReplayRecord? {
        let covering = history.filter { record in
            if let replayId, record.id <= replayId { return false }
            guard let deadLetteredAt else { return true }
            return record.replayedAt >= Double(deadLetteredAt)
        }
        return covering.max { $0.id < $1.id }
    }
}
