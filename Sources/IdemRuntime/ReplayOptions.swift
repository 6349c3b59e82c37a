import IdemConsumerKit
import IdemCore
import IdemPostgresStore

/// How `idem dlq replay` replays (or `idem dlq discard` discards).
public struct ReplayOptions: Sendable {
    /// Which dead letters.
    public var selection: ReplaySelection
    /// Replay copies an earlier replay already covered.
    public var force: Bool
    /// Leave the dedup row alone (the message is then a duplicate, unless its row is gone).
    public var keepDedupRow: Bool
    /// Say what would happen and change nothing.
    public var dryRun: Bool
    /// Who replays, for the audit.
    public var replayedBy: String
    /// Replay the dead letters, or discard them.
    public var action: ReplayAction

    /// Creates options.
    public init(
        selection: ReplaySelection, force: Bool = false, keepDedupRow: Bool = false, dryRun: Bool = false,
        replayedBy: String, action: ReplayAction = .replay
    ) {
        self.selection = selection
        self.force = force
        self.keepDedupRow = keepDedupRow
        self.dryRun = dryRun
        self.replayedBy = replayedBy
        self.action = action
    }
}
