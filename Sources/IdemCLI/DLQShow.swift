import ArgumentParser
import IdemConsumerKit
import IdemCore
import IdemPostgresStore
import IdemRuntime

/// `idem dlq show`: one dead letter, whole.
struct DLQShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one dead letter: headers, properties, body and replay history.",
        discussion: """
            The body is printed as text when it is UTF-8, else in base64, and cut at \
            \(DeadLetterText.bodyLimit) bytes unless --full. --position takes the # of \
            `idem dlq list`, or for Kafka PARTITION:OFFSET or TOPIC:PARTITION:OFFSET.
            """
    )

    @OptionGroup var options: DLQOptions

    @Option(help: ArgumentHelp("The message ID of the dead letter (the first copy, if several).", valueName: "id"))
    var id: String?

    @Option(help: ArgumentHelp("The dead letter's position, as `idem dlq list` shows it.", valueName: "position"))
    var position: String?

    @Flag(help: "Print the whole body, however large.")
    var full = false

    @Flag(help: "One JSON object instead of text.")
    var json = false

    func validate() throws {
        if (id == nil) == (position == nil) { throw ValidationError("give either --id or --position") }
    }

    func run() async throws {
        let (config, consumer) = try options.load()
        let logger = DLQOptions.logger(config)
        let (connection, audit) = try await DLQOptions.connectAudit(config, command: "dlq show", logger: logger)
        let channel: any DeadLetterChannel
        do {
            channel = try await DLQOptions.openChannel(consumer, command: "dlq show", logger: logger)
        } catch {
            await connection.close()
            throw error
        }
        let found: (entry: DeadLetterEntry?, history: [ReplayRecord])
        var rowStatus: String?
        do {
            found = try await DeadLetterBrowser(consumer: consumer.name, channel: channel, audit: audit)
                .find(id.map { .id($0) } ?? .position(position!))
            if let entry = found.entry, entry.letter.metadata.messageId != nil {
                rowStatus = try await audit.dedupRowStatus(consumer: consumer.name, id: entry.letter.id)
            }
        } catch {
            await channel.close()
            await connection.close()
            throw CLIFailure.runtime("idem dlq show: \(consumer.name): \(error)")
        }
        await channel.close()
        await connection.close()
        guard let entry = found.entry else {
            if let id {
                throw CLIFailure.runtime(
                    ReplayEvent.notFound(id: id, lastReplay: found.history.last)
                        .message(consumer: consumer.name, deadLetters: channel.name))
            }
            throw CLIFailure.runtime("\(consumer.name): no dead letter at position \(position!) in \(channel.name)")
        }
        let body = DeadLetterText.body(entry.letter.body, limit: full ? nil : DeadLetterText.bodyLimit)
        if json {
            printJSON(entry, body: body, rowStatus: rowStatus)
        } else {
            printText(entry, body: body, rowStatus: rowStatus, consumer: consumer.name, channel: channel.name)
        }
    }

    private func printJSON(
        _ entry: DeadLetterEntry, body: (label: String, text: String, truncated: Bool, isText: Bool),
        rowStatus: String?
    ) {
        var members = DeadLetterText.summaryMembers(entry)
        members.append(("dedup_row_status", rowStatus.map(JSONValue.string) ?? .null))
        members.append(
            (
                "headers",
                .array(
                    entry.letter.headers.map {
                        .array([.string($0.name), .string(DeadLetterText.headerText($0.value))])
                    })
            ))
        members.append(("attributes", .object(entry.letter.attributes.map { ($0.name, .string($0.value)) })))
        members.append((body.isText ? "body" : "body_base64", .string(body.text)))
        members.append(("body_truncated", .bool(body.truncated)))
        members.append(("replays", .array(entry.history.map(DeadLetterText.json))))
        print(JSONValue.object(members).jsonText)
    }

    private func printText(
        _ entry: DeadLetterEntry, body: (label: String, text: String, truncated: Bool, isText: Bool),
        rowStatus: String?, consumer: String, channel: String
    ) {
        let letter = entry.letter
        let metadata = letter.metadata
        print("\(consumer): dead letter #\(letter.position) in \(channel)")
        var facts: [[String]] = [
            ["  location", letter.location],
            [
                "  message id",
                letter.id + (metadata.messageId == nil ? " (no ID was derived: SHA-256 of the body)" : ""),
            ],
            ["  reason", metadata.reason ?? "-"],
            ["  attempts", metadata.attempts.map { String($0) } ?? "-"],
            ["  dead-lettered", EpochTime.text(letter.deadLetteredAt)],
            ["  first seen", EpochTime.text(metadata.firstSeen)],
            ["  source", metadata.source ?? "-"],
            ["  consumer", metadata.consumer ?? "-"],
            ["  last error", metadata.lastError ?? "-"],
        ]
        facts.append(["  dedup row", rowStatus ?? "none"])
        if let replayId = metadata.replayId {
            facts.append(["  replay id", "\(replayId) (failed again after that replay)"])
        }
        if let covering = entry.coveringReplay {
            facts.append([
                "  replayed",
                "yes: audit #\(covering.id) at \(EpochTime.text(covering.replayedAt)) by \(covering.replayedBy) "
                    + "(replaying it again needs --force)",
            ])
        } else {
            facts.append(["  replayed", "no"])
        }
        print(DeadLetterText.table(facts))
        if !letter.attributes.isEmpty {
            print(letter.location.hasPrefix("amqp:") ? "properties:" : "record:")
            print(DeadLetterText.table(letter.attributes.map { ["  \($0.name)", $0.value] }))
        }
        print("headers:")
        if letter.headers.isEmpty { print("  (none)") }
        for header in letter.headers {
            print("  \(header.name): \(DeadLetterText.headerText(header.value))")
        }
        print("body (\(body.label)):")
        print(body.text)
        if body.truncated {
            print("… (cut at \(DeadLetterText.bodyLimit) of \(letter.bodySize) bytes; --full shows it all)")
        }
        print("replays of '\(letter.id)':")
        if entry.history.isEmpty { print("  (none)") }
        for record in entry.history {
            var line =
                "  #\(record.id) at \(EpochTime.text(record.replayedAt)) by \(record.replayedBy): "
                + "\(record.deadLetterSource) to \(record.target)"
            line += record.rowReset ? ", dedup row reset" : ", dedup row kept"
            if record.forced { line += ", forced" }
            print(line)
        }
    }
}
