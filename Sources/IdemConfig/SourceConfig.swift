import IdemCore

/// A consumer's broker settings.
public enum SourceConfig: Sendable, Hashable {
    /// A RabbitMQ (AMQP 0-9-1) queue.
    case amqp(AMQPSourceConfig)
    /// Kafka topics in a consumer group.
    case kafka(KafkaSourceConfig)

    /// The kind of broker.
    public var kind: SourceKind {
        switch self {
        case .amqp: return .amqp
        case .kafka: return .kafka
        }
    }

    /// What the broker's messages carry, beyond a body and headers: which ID sources can
    /// yield a value.
    public var features: MessageFeatures {
        switch self {
        case .amqp: return AMQPSourceConfig.messageFeatures
        case .kafka: return KafkaSourceConfig.messageFeatures
        }
    }

    /// A short text for summaries: `amqp queue orders` or `kafka topics events, audit`.
    public var summary: String {
        switch self {
        case .amqp(let amqp): return "amqp queue \(amqp.queue) at \(Redaction.url(amqp.url))"
        case .kafka(let kafka): return "kafka topics \(kafka.topics.joined(separator: ", ")) at \(kafka.brokers)"
        }
    }
}
