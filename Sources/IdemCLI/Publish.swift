import ArgumentParser
import Foundation
import IdemAMQP
import IdemConfig
import IdemCore
import IdemKafka
import Logging

/// `idem publish`: publishes sample messages to a consumer's RabbitMQ queue (under
/// publisher confirms) or Kafka topic (waiting for delivery reports), to try a
/// configuration or reproduce an incident.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish sample messages to a consumer's RabbitMQ queue or Kafka topic.",
        discussion: """
            SAMPLES uses the format of `idem derive-id` (one JSON object a line: body, \
            body_json or body_base64, headers, message_id, key). Each line may also give \
            "copies": N to publish it N times. On RabbitMQ every message is mandatory and \
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
        guard
            let chosen = consumer.map({ name in config.consumers.first { $0.name == name } }) ?? config.consumers.first
        else {
            throw CLIFailure.config("no consumer\(consumer.map { " named '\($0)'" } ?? "") in \(config.file)")
        }
        var messages: [(Message, Int)] = []
        for (number, line) in try SampleMessage.lines(of: samples) {
            do {
                messages.append(try SampleMessage.parseWithCopies(line, consumer: chosen))
            } catch {
                throw CLIFailure.config("\(samples):\(number): \(error)")
            }
        }
        switch chosen.source {
        case .amqp(let source): try await publish(messages, to: source)
        case .kafka(let source): try await produce(messages, to: source)
        }
    }

    private func produce(_ messages: [(Message, Int)], to source: KafkaSourceConfig) async throws {
        var logger = Logger(label: "idem")
        logger.logLevel = .warning
        let topic = source.topics[0]
        let producer: KafkaProducer
        do {
            producer = try await KafkaProducer.make(
                bootstrapServers: source.brokers, configuration: source.producerProperties, logger: logger)
        } catch {
            throw CLIFailure.runtime("idem publish: \(error)")
        }
        var produced = 0
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for (message, copies) in messages {
                    let headers = message.headers.keys.sorted().compactMap { name -> KafkaHeader? in
                        switch message.headers[name] {
                        case .bytes(let bytes)?: return KafkaHeader(key: name, value: bytes)
                        case let value?: return value.identityText.map { KafkaHeader(key: name, text: $0) }
                        case nil: return nil
                        }
                    }
                    for _ in 0..<copies {
                        group.addTask {
                            _ = try await producer.produce(
                                topic: topic, key: message.key, value: message.body, headers: headers)
                        }
                        inFlight += 1
                        produced += 1
                        // Bounded: at most 1,000 delivery reports outstanding.
                        if inFlight >= 1000 {
                            try await group.next()
                            inFlight -= 1
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            await producer.close()
            throw CLIFailure.runtime("idem publish: \(error)")
        }
        await producer.close()
        print("published \(produced) records to topic \(topic)")
    }

    private func publish(_ messages: [(Message, Int)], to source: AMQPSourceConfig) async throws {
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
