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

    @Option(
        help: ArgumentHelp(
            "Only dead letters of this failure group, as `idem dlq groups` shows it.", valueName: "group"))
    var group: String?

    @Option(
        name: .customLong("id"),
        help: ArgumentHelp("A message ID to discard (repeatable), as `idem dlq list` shows it.", valueName: "id"))
    var ids: [String] = []

    @Flag(help: "Discard every dead letter of the consumer (with --reason or --group: every one of those).")
    var all = false

    @Option(help: ArgumentHelp("Only dead letters with this reason code (poison takes poison:*).", valueName: "code"))
    var reason: String?

    @Option(help: ArgumentHelp("Discard at most this many dead letters.", valueName: "n"))
    var limit: Int?

    @Flag(help: "Discard copies that an earlier replay or discard already covered.")
    var force = false

    @Flag(help: "Say what would be done, change nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Who discards, for the audit (default: $USER@hostname).", valueName: "name"))
    var by: String?

    func validate() throws {
        if ids.isEmpty == !(all || group != nil) {
            throw ValidationError("give either --group, --id (one or more) or --all")
        }
        if let limit, limit < 1 { throw ValidationError("--limit: expected a number of at least 1, got \(limit)") }
        if let by, by.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--by must not be empty") }
    }

    func run() async throws {
        try await DLQRun.take(
            options: options,
            replay: ReplayOptions(
                selection: ReplaySelection(
                    ids: ids.isEmpty ? nil : Set(ids), reason: reason, limit: limit, group: group),
                force: force, dryRun: dryRun, replayedBy: by ?? DLQReplay.defaultUser(), action: .discard))
    }
}
