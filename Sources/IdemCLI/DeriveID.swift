import ArgumentParser
import Foundation
import IdemConfig
import IdemCore

/// `idem derive-id`: shows which ID a consumer's ID chain gives sample messages, without
/// connecting to anything.
struct DeriveID: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "derive-id",
        abstract: "Show the message ID a consumer derives for each sample message.",
        discussion: """
            SAMPLES is a JSON-lines file (or - for standard input), one message a line:
              {"body": "text" | "body_json": {…} | "body_base64": "…",
               "headers": {"name": value, …}, "message_id": "…",
               "key": "…", "topic": "t", "partition": 0, "offset": 42, "queue": "q"}
            Every field is optional. Each line prints the ID and the source that gave it, or
            the poison reason the message would be dead-lettered with.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "The consumer whose ID chain to use (default: the first).")
    var consumer: String?

    @Argument(help: ArgumentHelp("The sample messages.", valueName: "samples"))
    var samples: String

    func run() async throws {
        let config = try options.load()
        let chosen = try ConfigOptions.consumer(consumer, in: config)
        var failures = 0
        for (lineNumber, line) in try SampleMessage.lines(of: samples) {
            let message: Message
            do {
                message = try SampleMessage.parse(line, kind: chosen.source.kind, consumer: chosen)
            } catch {
                printError("\(samples):\(lineNumber): \(error)")
                failures += 1
                continue
            }
            switch chosen.identity.derive(message) {
            case .identified(let id):
                print("\(samples):\(lineNumber): id \(JSONValue.string(id.value).jsonText) from \(id.source)")
            case .poison(let reason):
                print("\(samples):\(lineNumber): poison [\(reason.code)] \(reason)")
            }
        }
        if failures > 0 {
            throw CLIFailure.config("\(failures) sample line\(failures == 1 ? "" : "s") could not be read")
        }
    }
}
