import ArgumentParser
import Foundation
import IdemAMQP
import IdemConfig
import IdemCore
import Logging

/// `idem publish`: publishes sample messages to a consumer's RabbitMQ queue, under
/// publisher confirms, to try a configuration or reproduce an incident.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish sample messages to a consumer's RabbitMQ queue.",
        discussion: """
            SAMPLES uses the format of `idem derive-id` (one JSON object a line: body, \
            body_json or body_base64, headers, message_id). Each line may also give \
            "copies": N to publish it N times. Every message is mandatory and confirmed by the \
            broker, so a missing queue is an error. The queue is declared first when the \
            consumer's source has `declare: true`.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "The consumer whose queue to publish to (default: the first AMQP consumer).")
    var consumer: String?

    @Argument(help: ArgumentHelp("The sample messages (- for standard input).", valueName: "samples"))
    var samples: String

    func run() async throws {
        let config = try options.load()
        let amqpConsumers = config.consumers.filter { $0.source.kind == .amqp }
        guard let chosen = consumer.map({ name in amqpConsumers.first { $0.name == name } }) ?? amqpConsumers.first,
            case .amqp(let source) = chosen.source
        else {
            throw CLIFailure.config(
                "no AMQP consumer\(consumer.map { " named '\($0)'" } ?? "") in \(config.file)")
        }
        var messages: [(Message, Int)] = []
        for (number, line) in try SampleMessage.lines(of: samples) {
            do {
                messages.append(try SampleMessage.parseWithCopies(line, consumer: chosen))
            } catch {
                throw CLIFailure.config("\(samples):\(number): \(error)")
            }
        }
        var logger = Logger(label: "idem")
        logger.logLevel = .warning
        let connection: AMQPConnection
        do {
            connection = try await AMQPConnection.connect(
                url: source.url, connectionName: "idem publish", logger: logger)
        } catch {
            throw CLIFailure.runtime("idem publish: \(error)")
        }
        var published = 0
        do {
            try await connection.confirmSelect()
            if source.declare {
                _ = try await connection.declareQueue(name: source.queue, durable: true)
            }
            for (message, copies) in messages {
                var properties = AMQPProperties()
                properties.messageId = message.properties.messageId
                properties.deliveryMode = .persistent
                var headers = AMQPTable()
                for key in message.headers.keys.sorted() {
                    if let text = message.headers[key]?.identityText { headers[key] = .utf8(text) }
                }
                properties.headers = headers
                for _ in 0..<copies {
                    // Mandatory and confirmed: a message no queue takes is an error, not lost.
                    try await connection.publishAndConfirm(
                        exchange: "", routingKey: source.queue, body: message.body, properties: properties,
                        mandatory: true)
                    published += 1
                }
            }
        } catch {
            await connection.close()
            throw CLIFailure.runtime("idem publish: \(error)")
        }
        await connection.close()
        print("published \(published) messages to queue \(source.queue)")
    }
}
