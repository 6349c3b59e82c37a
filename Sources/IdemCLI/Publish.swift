import ArgumentParser
import Foundation

/// `idem publish`: publishes sample messages to a consumer's RabbitMQ queue (under
/// publisher confirms) or Kafka topic (waiting for delivery reports), to try a
/// configuration or reproduce an incident.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish sample messages to a consumer's RabbitMQ queue or Kafka topic.",
        discussion: """
            SAMPLES uses the corpus format of `idem replay` and `idem derive-id` (one JSON \
            object a line: body, body_json or body_base64, message_id, headers, key, \
            properties, partition); "times": N (or "copies": N) publishes a line N times. On RabbitMQ every message is mandatory and \
            confirmed by the broker, so a missing queue is an error; the queue is declared \
            first when the consumer's source has `declare: true`. On Kafka each record goes to \
            the consumer's first topic (its key picks the partition) and its delivery report \
            is awaited.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "The consumer whose queue or topic to publish to (default: the first consumer).")
    var consumer: String?

    @Argument(help: ArgumentHelp("The sample messages (- for standard input).", valueName: "samples"))
    var samples: String

    func run() async throws {
        let config = try options.load()
        let chosen = try ConfigOptions.consumer(consumer, in: config)
        let entries = try SampleMessage.corpus(samples, consumer: chosen)
        let messages = entries.flatMap { Array(repeating: $0, count: $0.times) }
        let target = try ReplayTarget.of(chosen)
        let publisher = CorpusPublisher(target: target, command: "idem publish")
        let sent = try await publisher.send(messages)
        let what = target.kind == .kafka ? "records to topic" : "messages to queue"
        print("published \(sent) \(what) \(target.destination)")
    }
}
