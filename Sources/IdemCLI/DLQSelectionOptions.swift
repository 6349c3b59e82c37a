import ArgumentParser
import IdemCore

/// Which dead letters `idem dlq replay` and `idem dlq discard` take, and how: the options
/// both commands share.
struct DLQSelectionOptions: ParsableArguments {
    @Option(
        name: .customLong("id"),
        help: ArgumentHelp("A message ID to take (repeatable), as `idem dlq list` shows it.", valueName: "id"))
    var ids: [String] = []

    @Flag(help: "Take every dead letter of the consumer (with --reason or --group: every one of those).")
    var all = false

    @Option(help: ArgumentHelp("Only dead letters with this reason code (poison takes poison:*).", valueName: "code"))
    var reason: String?

    @Option(
        help: ArgumentHelp(
            "Only dead letters of this failure group, as `idem dlq groups` shows it.", valueName: "group"))
    var group: String?

    @Option(help: ArgumentHelp("Take at most this many dead letters.", valueName: "n"))
    var limit: Int?

    @Flag(help: "Take copies that an earlier replay or discard already covered.")
    var force = false

    @Flag(help: "Say what would be done, change nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Who does it, for the audit (default: $USER@hostname).", valueName: "name"))
    var by: String?

    func validate() throws {
        if ids.isEmpty == !(all || group != nil) {
            throw ValidationError("give either --id (one or more), --group or --all")
        }
        if let limit, limit < 1 { throw ValidationError("--limit: expected a number of at least 1, got \(limit)") }
        if let by, by.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--by must not be empty") }
    }

    /// The dead letters selected.
    var selection: ReplaySelection {
        ReplaySelection(ids: ids.isEmpty ? nil : Set(ids), reason: reason, limit: limit, group: group)
    }

    /// Who takes them, for the audit.
    var takenBy: String { by ?? DLQReplay.defaultUser() }
}
