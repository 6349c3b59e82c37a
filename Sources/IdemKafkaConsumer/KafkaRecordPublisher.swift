import IdemConsumerKit
import IdemCore
import IdemKafka
import Logging

/// Produces messages to a topic in order with an idempotent producer, waiting for their
/// delivery reports: the Kafka side of `idem publish` and `idem replay`.
struct KafkaRecordPublisher: MessagePublisher {
    /// A target's settings, as ``KafkaBrokerAdapter`` reads them.
    struct Settings: Sendable {
        var brokers: String
        var topic: String
        /// librdkafka producer properties.
        var properties: [String: String]
    }

    let producer: KafkaProducer
    let topic: String

    var batchLimit: Int { 1000 }

    /// A producer for `settings`; a record waits at most `deliveryTimeout` for its delivery
    /// unless the properties set `message.timeout.ms`.
    static func open(_ settings: Settings, deliveryTimeout: Duration, logger: Logger) async throws
        -> KafkaRecordPublisher
    {
        var configuration = settings.properties
        configuration["message.timeout.ms"] =
            configuration["message.timeout.ms"] ?? String(deliveryTimeout.wholeMilliseconds)
        // Retries keep their order within a partition.
        configuration["enable.idempotence"] = configuration["enable.idempotence"] ?? "true"
        let producer = try await KafkaProducer.make(
            bootstrapServers: settings.brokers, configuration: configuration, logger: logger)
        return KafkaRecordPublisher(producer: producer, topic: settings.topic)
    }

    func send(_ messages: [OutgoingMessage]) async throws {
        let records = messages.map { outgoing in
            KafkaOutgoingRecord(
                topic: topic, key: outgoing.message.key, value: outgoing.message.body,
                headers: Self.headers(outgoing.message), partition: outgoing.lane)
        }
        let reports = await producer.produce(records)
        for (outgoing, report) in zip(messages, reports) {
            if case .failure(let error) = report {
                // The records after it are not to be delivered either (closing twice is
                // harmless).
                await producer.close(timeout: .zero)
                throw PublishFailure(label: outgoing.label, reason: error.description)
            }
        }
    }

    func close() async {
        await producer.close()
    }

    /// The headers of `message` as record headers, sorted by name.
    static func headers(_ message: Message) -> [KafkaHeader] {
        message.headers.keys.sorted().compactMap { name -> KafkaHeader? in
            switch message.headers[name] {
            case .bytes(let bytes)?: return KafkaHeader(key: name, value: bytes)
            case .void?: return KafkaHeader(key: name, value: nil)
            case let value?: return value.identityText.map { KafkaHeader(key: name, text: $0) }
            case nil: return nil
            }
        }
    }
}
