import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemPostgresStore

/// `idem dlq replay`: puts a consumer's selected dead letters back on its source, each
/// once, with an audit row; or `idem dlq discard`: takes them off, audited the same way.
///
/// For each selected dead letter, in order: (1) one PostgreSQL transaction decides and
/// records the replay (``ReplayAudit/record(_:)``: refused if an earlier replay covered
/// this copy, unless forced; the dedup row deleted so that the message is processed
/// afresh; the audit row inserted); (2) the message is published back to the source and
/// the broker's confirm awaited; (3) the dead letter is taken off the queue (RabbitMQ). If
/// publishing fails, the audit row is deleted again and the dead letter stays. A discard
/// records its audit row (the dedup row is left as it is) and takes the dead letter off;
/// on a Kafka topic, which keeps its records, the audit row is what makes a later replay
/// refuse it.
public struct DeadLetterReplayer: Sendable {
    let consumer: ConsumerConfig
    let channel: any DeadLetterChannel
    let audit: ReplayAudit
    let options: ReplayOptions

    /// A replayer of `consumer`'s dead letters in `channel`, auditing in `audit`.
    public init(consumer: ConsumerConfig, channel: any DeadLetterChannel, audit: ReplayAudit, options: ReplayOptions) {
        self.consumer = consumer
        self.channel = channel
        self.audit = audit
        self.options = options
    }

    /// Whether replays of this consumer delete the dedup row: not with `--keep-dedup-row`,
    /// and not for consumers keyed by Kafka offset (one row per partition, not per message:
    /// the replayed record is a new record at a new offset).
    var resetsRows: Bool {
        options.action == .replay && !options.keepDedupRow && consumer.identity.sources.first != .offset
    }

    /// Runs the replay, telling `report` about each dead letter as it goes.
    ///
    /// - Throws: a PostgreSQL or broker error that stops the run (what was done before it
    ///   stays done, and was reported).
    public func run(_ report: (ReplayEvent) -> Void) async throws -> ReplaySummary {
        var summary = ReplaySummary(dryRun: options.dryRun, action: options.action)
        var replayedHere: Set<Int64> = []
        var firstInRun: [String: Int] = [:]
        var taken = 0
        var stoppedByLimit = false
        while let letter = try await channel.next() {
            report(.examined(letter))
            guard letter.belongs(to: consumer.name) else {
                summary.otherConsumers += 1
                continue
            }
            // Dead-lettered again after a replay of this run: left for the next run.
            if let replayId = letter.metadata.replayId, replayedHere.contains(replayId) { continue }
            guard
                options.selection.selects(
                    id: letter.id, reasonCode: letter.metadata.reason,
                    group: options.selection.group == nil ? nil : letter.fingerprint.group)
            else { continue }
            if options.selection.isExhausted(after: taken) {
                stoppedByLimit = true
                break
            }
            taken += 1
            defer { if firstInRun[letter.id] == nil { firstInRun[letter.id] = letter.position } }
            let target: String
            do {
                target = options.action == .discard ? Self.discarded : try channel.target(for: letter)
            } catch {
                summary.failed += 1
                report(.failed(letter, reason: "\(error)"))
                continue
            }
            // Only IDs idem derived can have a dedup row.
            let resetRow = resetsRows && letter.metadata.messageId != nil
            if options.dryRun {
                try await dryRun(letter, target: target, resetRow: resetRow, firstInRun: firstInRun, &summary, report)
                continue
            }
            let outcome = try await audit.record(
                ReplayAudit.Request(
                    consumer: consumer.name, letter: letter, target: target, resetRow: resetRow, force: options.force,
                    replayedBy: options.replayedBy, action: options.action, failureGroup: options.selection.group))
            switch outcome {
            case .refused(let earlier):
                summary.refused += 1
                report(.refused(letter, earlier: earlier))
            case .recorded(let record, _, let overridden) where options.action == .discard:
                let removalError = await remove(letter)
                summary.replayed += 1
                report(.discarded(letter, record: record, overridden: overridden, removalError: removalError))
            case .recorded(var record, let resetStatus, let overridden):
                do {
                    record.target = try await channel.republish(letter, replayID: record.id)
                } catch {
                    var reason = "could not publish it to \(target): \(error); it stays in the dead letters"
                    do {
                        try await audit.cancel(record.id)
                        reason += ", and its audit row #\(record.id) was deleted again"
                    } catch let cancelError {
                        reason += "; its audit row #\(record.id) could not be deleted (\(cancelError))"
                    }
                    summary.failed += 1
                    report(.failed(letter, reason: reason))
                    continue
                }
                replayedHere.insert(record.id)
                try? await audit.updateTarget(of: record.id, to: record.target)
                let removalError = await remove(letter)
                summary.replayed += 1
                report(
                    .replayed(
                        letter, record: record, resetStatus: resetStatus, overridden: overridden,
                        removalError: removalError))
            }
        }
        if let ids = options.selection.ids, !stoppedByLimit {
            let missing = ids.filter { firstInRun[$0] == nil }.sorted()
            let history = try await audit.history(consumer: consumer.name, ids: missing)
            for id in missing {
                summary.notFound += 1
                report(.notFound(id: id, lastReplay: history[id]?.last))
            }
        }
        return summary
    }

    /// Takes `letter` off the dead letters; why it could not, if it could not.
    private func remove(_ letter: DeadLetter) async -> String? {
        do {
            try await channel.remove(letter)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func dryRun(
        _ letter: DeadLetter, target: String, resetRow: Bool, firstInRun: [String: Int], _ summary: inout ReplaySummary,
        _ report: (ReplayEvent) -> Void
    ) async throws {
        let history = try await audit.history(consumer: consumer.name, ids: [letter.id])[letter.id] ?? []
        let earlier = ReplayGuard.earlierReplay(
            deadLetteredAt: letter.deadLetteredAt, replayId: letter.metadata.replayId, history: history)
        if let earlier, !options.force {
            summary.refused += 1
            report(.refused(letter, earlier: earlier))
            return
        }
        if let first = firstInRun[letter.id], !options.force {
            summary.refused += 1
            report(.refusedInRun(letter, firstPosition: first))
            return
        }
        summary.replayed += 1
        if options.action == .discard {
            report(.wouldDiscard(letter, overriding: earlier))
            return
        }
        let status = resetRow ? try await audit.dedupRowStatus(consumer: consumer.name, id: letter.id) : nil
        report(.wouldReplay(letter, target: target, rowStatus: status, overriding: earlier))
    }

    /// The audit's target of a discarded dead letter.
    static let discarded = "(discarded)"
}
