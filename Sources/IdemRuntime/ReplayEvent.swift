import IdemConsumerKit
import IdemCore
import IdemPostgresStore

/// What `idem dlq replay` did with one dead letter (or one ID asked for), as it happens.
public enum ReplayEvent: Sendable {
    /// A dead letter was read (selected or not): for progress.
    case examined(DeadLetter)
    /// Put back on the source as `record`. `resetStatus` is the status of the dedup row
    /// deleted (`nil`: none was); `overridden` the earlier replay `--force` went past;
    /// `removalError` why the dead letter could not be taken off the queue, if it could not.
    case replayed(
        DeadLetter, record: ReplayRecord, resetStatus: String?, overridden: ReplayRecord?, removalError: String?)
    /// Dry run: would be put back on `target`; `rowStatus` is its dedup row's status when
    /// the replay would delete it.
    case wouldReplay(DeadLetter, target: String, rowStatus: String?, overriding: ReplayRecord?)
    /// Discarded, as `record`; `overridden` the earlier replay or discard `--force` went past;
    /// `removalError` why it could not be taken off the queue, if it could not.
    case discarded(DeadLetter, record: ReplayRecord, overridden: ReplayRecord?, removalError: String?)
    /// Dry run: would be discarded.
    case wouldDiscard(DeadLetter, overriding: ReplayRecord?)
    /// Refused: `earlier` already replayed (or discarded) this copy.
    case refused(DeadLetter, earlier: ReplayRecord)
    /// Dry run: refused, since the copy at `firstPosition` of the same ID would be
    /// replayed first in this run.
    case refusedInRun(DeadLetter, firstPosition: Int)
    /// Not replayed, for `reason`; the dead letter stays where it was.
    case failed(DeadLetter, reason: String)
    /// An ID asked for is not in the dead letters; `lastReplay` is its latest replay, if
    /// it had one.
    case notFound(id: String, lastReplay: ReplayRecord?)

    /// The event in words, for `consumer`'s dead letters in `deadLetters` (such as
    /// `queue orders.dlq`).
    public func message(consumer: String, deadLetters: String) -> String {
        switch self {
        case .examined(let letter):
            return "\(consumer): read \(Self.describe(letter))"
        case .replayed(let letter, let record, let resetStatus, let overridden, let removalError):
            var text = "\(consumer): replayed \(Self.describe(letter)) to \(record.target) (audit #\(record.id))"
            text += resetStatus.map { "; its dedup row (\($0)) was reset" } ?? "; no dedup row was reset"
            if let overridden { text += "; forced past the replay of audit #\(overridden.id)" }
            if let removalError {
                text +=
                    "; the dead letter could not be taken off the queue (\(removalError)), "
                    + "and the audit keeps it from being replayed again"
            }
            return text
        case .discarded(let letter, let record, let overridden, let removalError):
            var text = "\(consumer): discarded \(Self.describe(letter)) (audit #\(record.id))"
            if let overridden { text += "; forced past the \(overridden.action.rawValue) of audit #\(overridden.id)" }
            if let removalError {
                text +=
                    "; it could not be taken off the queue (\(removalError)), and the audit keeps it from being replayed"
            }
            return text
        case .wouldDiscard(let letter, let overriding):
            var text = "\(consumer): would discard \(Self.describe(letter))"
            if let overriding { text += "; forcing past the \(overriding.action.rawValue) of audit #\(overriding.id)" }
            return text
        case .wouldReplay(let letter, let target, let rowStatus, let overriding):
            var text = "\(consumer): would replay \(Self.describe(letter)) to \(target)"
            text += rowStatus.map { "; would reset its dedup row (\($0))" } ?? "; no dedup row to reset"
            if let overriding { text += "; forcing past the replay of audit #\(overriding.id)" }
            return text
        case .refused(let letter, let earlier):
            let copy = "#\(letter.position), \(letter.location)"
            let when =
                letter.deadLetteredAt.map { "was dead-lettered before that (at \(EpochTime.text($0)); \(copy))" }
                ?? "has no dead-letter time (\(copy))"
            return
                "\(consumer): message '\(letter.id)' was already \(earlier.action.done) at "
                + "\(EpochTime.text(earlier.replayedAt)) by \(earlier.replayedBy) (audit #\(earlier.id)); this copy "
                + "\(when); use --force to \(earlier.action == .replay ? "replay it again" : "take it anyway")"
        case .refusedInRun(let letter, let firstPosition):
            return
                "\(consumer): would refuse \(Self.describe(letter)): the copy #\(firstPosition) of the same "
                + "message is taken first in this run; use --force to take both"
        case .failed(let letter, let reason):
            return "\(consumer): could not take \(Self.describe(letter)): \(reason)"
        case .notFound(let id, let lastReplay?):
            return
                "\(consumer): message '\(id)' was \(lastReplay.action.done) at \(EpochTime.text(lastReplay.replayedAt)) by "
                + "\(lastReplay.replayedBy) (audit #\(lastReplay.id)) and is no longer in the dead-letter "
                + deadLetters
        case .notFound(let id, nil):
            return
                "\(consumer): no message '\(id)' in the dead-letter \(deadLetters), and it was never replayed or discarded"
        }
    }

    /// `'ID' (#3, amqp:orders.dlq)`.
    static func describe(_ letter: DeadLetter) -> String {
        "'\(letter.id)' (#\(letter.position), \(letter.location))"
    }
}
