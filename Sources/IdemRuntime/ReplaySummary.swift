import IdemConsumerKit
import IdemCore
import IdemPostgresStore

/// What a run of `idem dlq replay` did.
public struct ReplaySummary: Sendable, Hashable, CustomStringConvertible {
    /// Dead letters replayed (in a dry run: that would be).
    public var replayed = 0
    /// Dead letters refused because an earlier replay covered them.
    public var refused = 0
    /// Dead letters that could not be replayed.
    public var failed = 0
    /// IDs asked for that are not in the dead letters.
    public var notFound = 0
    /// Dead letters of other consumers, passed over.
    public var otherConsumers = 0
    /// Whether it was a dry run.
    public var dryRun = false
    /// Whether the dead letters were replayed or discarded (``replayed`` counts either).
    public var action = ReplayAction.replay

    /// Creates an empty summary.
    public init(dryRun: Bool = false, action: ReplayAction = .replay) {
        self.dryRun = dryRun
        self.action = action
    }

    /// Whether nothing was refused, failed or missing: the run exits 0.
    public var succeeded: Bool { refused == 0 && failed == 0 && notFound == 0 }

    /// `replayed 2, refused 1, failed 0` (a dry run: `would replay 2, would refuse 1,
    /// failed 0`), with the IDs not found when there are any.
    public var description: String {
        var text =
            dryRun
            ? "dry run: would \(action.rawValue) \(replayed), would refuse \(refused), failed \(failed)"
            : "\(action.done) \(replayed), refused \(refused), failed \(failed)"
        if notFound > 0 { text += ", not found \(notFound)" }
        return text
    }
}
