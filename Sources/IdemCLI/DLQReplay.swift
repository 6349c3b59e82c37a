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

    @OptionGroup var selected: DLQSelectionOptions

    @Flag(help: "Leave the dedup row: a message whose row says done is then acked as a duplicate.")
    var keepDedupRow = false

    func run() async throws {
        try await DLQRun.take(
            options: options,
            replay: ReplayOptions(
                selection: selected.selection, force: selected.force, keepDedupRow: keepDedupRow,
                dryRun: selected.dryRun, replayedBy: selected.takenBy))
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
