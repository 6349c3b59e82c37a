import ArgumentParser
import IdemConsumerKit
import IdemCore
import IdemPostgresStore
import IdemRuntime
import IdemTerminal

/// `idem dlq list`: a consumer's dead letters, with reasons, attempts and replay state.
struct DLQList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List a consumer's dead letters.",
        discussion: """
            One line per dead letter: its position (#, for show --position), message ID (the \
            ID to give replay --id; sha256:<hex of the body> when idem derived none), reason, \
            attempts, when it was dead-lettered and first seen, where it came from, whether it \
            was already replayed (from the audit), and its last error. Nothing is consumed.
            """
    )

    @OptionGroup var options: DLQOptions

    @Option(help: ArgumentHelp("List at most this many dead letters.", valueName: "n"))
    var limit: Int?

    @Flag(help: "One JSON object per line instead of a table.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit: expected a number of at least 1, got \(limit)") }
    }

    func run() async throws {
        let (config, consumer) = try options.load()
        let (listing, channelName) = try await DLQOptions.browse(
            config, consumer, command: "dlq list", limit: limit)
        if json {
            for entry in listing.entries { print(JSONValue.object(DeadLetterText.summaryMembers(entry)).jsonText) }
            return
        }
        print(heading(listing, consumer: consumer.name, channel: channelName))
        guard !listing.entries.isEmpty else { return }
        var rows = [
            [
                "#", "ID", "REASON", "GROUP", "ATTEMPTS", "DEAD-LETTERED", "FIRST-SEEN", "SOURCE", "REPLAYED",
                "LAST ERROR",
            ]
        ]
        for entry in listing.entries {
            let letter = entry.letter
            let metadata = letter.metadata
            rows.append([
                String(letter.position), letter.id, metadata.reason ?? "-", letter.fingerprint.group,
                metadata.attempts.map { String($0) } ?? "-",
                EpochTime.text(letter.deadLetteredAt), EpochTime.text(metadata.firstSeen), metadata.source ?? "-",
                DeadLetterText.replayState(entry), DeadLetterText.shortened(metadata.lastError ?? "", to: 80),
            ])
        }
        print(DeadLetterText.table(rows))
    }

    private func heading(_ listing: DeadLetterBrowser.Listing, consumer: String, channel: String) -> String {
        let count = listing.entries.count
        let letters = "dead letter\(count == 1 ? "" : "s")"
        var text: String
        if count == 0 {
            text = "\(consumer): no dead letters in \(channel)"
        } else if listing.truncated {
            text = "\(consumer): the first \(count) \(letters) in \(channel) (--limit)"
        } else {
            text = "\(consumer): \(count) \(letters) in \(channel)"
        }
        if listing.otherConsumers > 0 {
            text += "; \(listing.otherConsumers) of other consumers passed over"
        }
        return text
    }
}
