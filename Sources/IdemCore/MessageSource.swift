/// Where a message came from: the coordinates a broker gave it.
public enum MessageSource: Sendable, Hashable, CustomStringConvertible {
    /// An AMQP delivery from `queue`, published to `exchange` with `routingKey`.
    case amqp(queue: String, exchange: String, routingKey: String, redelivered: Bool)
    /// A Kafka record at `topic`/`partition`/`offset`.
    case kafka(topic: String, partition: Int32, offset: Int64)

    /// A short text for logs, dead-letter headers and the `source` column:
    /// `amqp:QUEUE` or `TOPIC:PARTITION:OFFSET`.
    public var description: String {
        switch self {
        case .amqp(let queue, _, _, _):
            return "amqp:\(queue)"
        case .kafka(let topic, let partition, let offset):
            return "\(topic):\(partition):\(offset)"
        }
    }

    /// Which kind of broker delivered the message.
    public var kind: SourceKind {
        switch self {
        case .amqp: return .amqp
        case .kafka: return .kafka
        }
    }
}

/// The kinds of message source idem consumes from.
public enum SourceKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// RabbitMQ and other AMQP 0-9-1 brokers.
    case amqp
    /// Apache Kafka and Kafka-compatible brokers.
    case kafka

    /// The kind's configuration name.
    public var description: String { rawValue }
}
