import ArgumentParser
import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgresStore
import IdemRuntime
import IdemTerminal

/// `idem dlq replay`: puts dead letters back on the consumer's source, each once, audited.
struct DLQReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Put dead letters back on the consumer's queue or topic to be processed again.",
        discussion: """
            For each selected dead letter: one PostgreSQL transaction refuses it if the audit \
            (<table>_replays) shows a replay of its message ID at or after the time it was \
            dead-lettered (unless --force), resets its dedup row so that it is processed again \
            (unless --keep-dedup-row) and records the replay; then the message is published \
            back to the source (RabbitMQ: the consumer's queue; Kafka: the topic it came from) \
            with its body, key, properties and headers, its x-idem-* headers replaced by \
            x-idem-replay-id (the audit row), and confirmed by the broker; then it is taken off \
            the dead-letter queue (a Kafka topic keeps it: the audit refuses it next time). \
            --group takes the dead letters of one failure group (idem dlq groups). Exits 0 only \
            when nothing was refused, failed or missing.
            """
    )

    @OptionGroup var options: DLQOptions

    @Option(
        name: .customLong("id"),
        help: ArgumentHelp("A message ID to replay (repeatable), as `idem dlq list` shows it.", valueName: "id"))
    var ids: [String] = []

    @Flag(help: "Replay every dead letter of the consumer (with --reason or --group: every one of those).")
    var all = false

    @Option(help: ArgumentHelp("Only dead letters with this reason code (poison takes poison:*).", valueName: "code"))
    var reason: String?

    @Option(
        help: ArgumentHelp(
            "Only dead letters of this failure group, as `idem dlq groups` shows it.", valueName: "group"))
    var group: String?

    @Option(help: ArgumentHelp("Replay at most this many dead letters.", valueName: "n"))
    var limit: Int?

    @Flag(help: "Replay copies that an earlier replay already covered.")
    var force = false

    @Flag(help: "Leave the dedup row: a message whose row says done is then acked as a duplicate.")
    var keepDedupRow = false

    @Flag(help: "Say what would be done, change nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Who replays, for the audit (default: $USER@hostname).", valueName: "name"))
    var by: String?

    func validate() throws {
        if ids.isEmpty == !(all || group != nil) {
            throw ValidationError("give either --id (one or more), --group or --all")
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
                force: force, keepDedupRow: keepDedupRow, dryRun: dryRun, replayedBy: by ?? Self.defaultUser()))
    }

    /// `$USER@hostname`.
    static func defaultUser() -> String {
        let environment = ProcessInfo.processInfo.environment
        var user = environment["USER"] ?? environment["LOGNAME"] ?? ""
        if user.isEmpty, let entry = getpwuid(getuid()), let name = entry.pointee.pw_name {
            user = String(cString: name)
        }
        var host = [CChar](repeating: 0, count: 256)
        let hostname =
            gethostname(&host, host.count - 1) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        return "\(user.isEmpty ? "uid\(getuid())" : user)@\(hostname)"
    }
}
