import IdemConfig
import Logging

/// Opens the dead-letter channel of a consumer, whatever its broker.
public enum DeadLetterChannels {
    /// The dead-letter queue (RabbitMQ) or topics (Kafka) of `consumer`.
    ///
    /// - Throws: the broker client's error (naming the endpoint, never a password), or
    ///   ``DeadLetterChannelError``.
    public static func open(for consumer: ConsumerConfig, logger: Logger) async throws -> any DeadLetterChannel {
        switch consumer.source {
        case .amqp(let source): return try await AMQPDeadLetterChannel.open(source: source, logger: logger)
        case .kafka(let source): return try await KafkaDeadLetterChannel.open(source: source, logger: logger)
        }
    }
}
