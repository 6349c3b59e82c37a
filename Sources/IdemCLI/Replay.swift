import ArgumentParser
import Foundation
import IdemConfig
import IdemCore
import IdemTerminal

/// `idem replay`: publishes a replay corpus to a RabbitMQ queue or a Kafka topic, to
/// reproduce an incident or to drive an end-to-end test.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a replay corpus (JSON lines) to a RabbitMQ queue or a Kafka topic.",
        discussion: """
            FILE holds one message a line (- for standard input):
              {"body": "text" | "body_json": {…} | "body_base64": "…",
               "message_id": "…", "headers": {"name": value, …}, "key": "…",
               "properties": {"content_type": "…", "correlation_id": "…", "type": "…",
                              "app_id": "…", "timestamp": 1700000000, "priority": 5,
                              "delivery_mode": 2, "persistent": true, "expiration": "60000", …},
               "partition": 0, "times": 3}
            Every field is optional; "times" (or "copies") sends the line that many times.
            SOURCE is one of:
              amqp://user:password@host:port/vhost --queue NAME   (through the default exchange)
              kafka://host:port[,host:port…]/TOPIC
              consumer:NAME --config FILE   (the consumer's queue, or its first topic)
            RabbitMQ messages are mandatory and confirmed by the broker in batches; Kafka
            records are produced in order by an idempotent producer and their delivery
            reports awaited. A bad line is exit 2 (file, line and field named), a broker
            that cannot be reached or refuses a message exit 1.
            """
    )

    @Argument(help: ArgumentHelp("The replay corpus (- for standard input).", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("Where to send: amqp://…, kafka://…/TOPIC or consumer:NAME.", valueName: "source"))
    var to: String

    @Option(help: ArgumentHelp("The queue, with an amqp:// target.", valueName: "name"))
    var queue: String?

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Send the copies in a random but reproducible order (see --seed).")
    var shuffle = false

    @Option(help: ArgumentHelp("The seed of --shuffle (default: a random one, printed).", valueName: "n"))
    var seed: UInt64?

    @Option(help: ArgumentHelp("Messages per second; 0 sends as fast as the broker confirms.", valueName: "n"))
    var rate: Double = 0

    @Flag(help: "Print what would be sent, and send nothing.")
    var dryRun = false

    func validate() throws {
        guard rate >= 0, rate.isFinite else { throw ValidationError("--rate must be 0 or more, not \(rate)") }
        if seed != nil, !shuffle { throw ValidationError("--seed goes with --shuffle") }
    }

    func run() async throws {
        let options = options
        let target = try ReplayTarget.parse(to, queue: queue) { try options.load() }
        let entries = try SampleMessage.corpus(
            file, kind: target.kind, queue: target.kind == .kafka ? "" : target.destination,
            topic: target.kind == .kafka ? target.destination : "")
        guard !entries.isEmpty else { throw CLIFailure.config("\(file): no messages") }
        var sends = entries.flatMap { entry in (1...entry.times).map { (entry: entry, copy: $0) } }
        var order = ""
        if shuffle {
            let seed = seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
            var shuffler = SeededShuffle(seed: seed)
            shuffler.shuffle(&sends)
            order = ", shuffled with seed \(seed)"
        }
        let lines = "\(entries.count) distinct line\(entries.count == 1 ? "" : "s")"
        if dryRun {
            for (number, send) in sends.enumerated() {
                print("\(number + 1): \(describe(send.entry, copy: send.copy, kind: target.kind))")
            }
            print("dry run: would send \(sends.count) messages (\(lines)) to \(target.shown)\(order)")
            return
        }
        let progress = TerminalProgress("replaying", total: sends.count)
        let started = ContinuousClock.now
        let publisher = CorpusPublisher(target: target, rate: rate, progress: progress)
        let sent: Int
        do {
            sent = try await publisher.send(sends.map(\.entry))
        } catch {
            progress.finish()
            throw error
        }
        progress.finish()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "sent \(sent) messages (\(lines)) to \(target.shown) in \(String(format: "%.2f", seconds)) s\(order)")
    }

    /// One line of `--dry-run`: where the message comes from and what it carries.
    private func describe(_ entry: CorpusEntry, copy: Int, kind: SourceKind) -> String {
        let message = entry.message
        var parts = ["\(file):\(entry.line) copy \(copy) of \(entry.times)"]
        if kind == .kafka {
            parts.append(
                "key " + (message.key.map { JSONValue.string(String(decoding: $0, as: UTF8.self)).jsonText } ?? "-"))
            if let partition = entry.partition { parts.append("partition \(partition)") }
        } else {
            parts.append("message_id " + (message.properties.messageId.map { JSONValue.string($0).jsonText } ?? "-"))
        }
        if !message.headers.isEmpty {
            let names = message.headers.keys.sorted().map { name in
                "\(name)=\(message.headers[name]?.identityText ?? "…")"
            }
            parts.append("headers " + names.joined(separator: " "))
        }
        let text = UTF8Text.decode(message.body).map { text in
            text.count > 60 ? JSONValue.string(String(text.prefix(60))).jsonText + "…" : JSONValue.string(text).jsonText
        }
        parts.append("body \(message.body.count) bytes" + (text.map { " \($0)" } ?? " (binary)"))
        return parts.joined(separator: ", ")
    }
}
