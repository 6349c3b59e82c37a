import IdemCore

extension SourceKind {
    /// RabbitMQ and other AMQP 0-9-1 brokers: `source: {amqp: ...}`.
    public static let amqp: SourceKind = "amqp"
    /// Apache Kafka and Kafka-compatible brokers: `source: {kafka: ...}`.
    public static let kafka: SourceKind = "kafka"
}
