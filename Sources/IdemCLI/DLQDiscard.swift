import ArgumentParser
import IdemCore
import IdemRuntime

/// `idem dlq discard`: throws dead letters away, each audited as a replay is.
struct DLQDiscard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discard",
        abstract: "Throw dead letters away (audited), for failures that should not be retried.",
        discussion: """
            For each selected dead letter: one PostgreSQL transaction refuses it if the audit \
            (<table>_replays) shows a replay or discard of its message ID at or after the time \
            it was dead-lettered (unless --force), and records the discard (action 'discard', \
            with the --group given); then it is taken off the dead-letter queue. A Kafka topic \
            keeps its records: there the audit row is what makes a later replay of the copy \
            refuse it. The dedup row is left as it is, so a redelivery of the message is still \
            not processed. Exits 0 only when nothing was refused, failed or missing.
            """
    )

    @OptionGroup var options: DLQOptions

    @OptionGroup var selected: DLQSelectionOptions

    func run() async throws {
        try await DLQRun.take(
            options: options,
            replay: ReplayOptions(
                selection: selected.selection, force: selected.force, dryRun: selected.dryRun,
                replayedBy: selected.takenBy, action: .discard))
    }
}
