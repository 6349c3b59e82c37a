import IdemConcurrency
import IdemConfig
import IdemConsumerKit
import IdemCore
import Logging

/// Kafka (and Kafka-protocol brokers) as a broker adapter: `source: {kafka: ...}`.
public struct KafkaBrokerAdapter: BrokerAdapter {
    /// The adapter.
    public init() {}

    public var kind: SourceKind { .kafka }

    public var brokerName: String { "Kafka" }

    /// From 500 ms, doubling up to 30 s: a new librdkafka consumer rejoins the group, which
    /// costs the group a rebalance.
    public var reconnectBackoff: Backoff { Backoff(initial: .milliseconds(500), maximum: .seconds(30)) }

    public func makeSession(_ context: ConsumerContext) throws -> any ConsumerSession {
        guard case .kafka(let source) = context.consumer.source else {
            throw AdapterMismatch(consumer: context.consumer.name, kind: context.consumer.source.kind, adapter: kind)
        }
        return KafkaConsumerSession(context: context, source: source)
    }

    public func openDeadLetterChannel(for consumer: ConsumerConfig, logger: Logger) async throws
        -> any DeadLetterChannel
    {
        guard case .kafka(let source) = consumer.source else {
            throw AdapterMismatch(consumer: consumer.name, kind: consumer.source.kind, adapter: kind)
        }
        return try await KafkaDeadLetterChannel.open(source: source, logger: logger)
    }
}
