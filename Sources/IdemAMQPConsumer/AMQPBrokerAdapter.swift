import IdemConfig
import IdemConsumerKit
import IdemCore
import Logging

/// RabbitMQ (AMQP 0-9-1) as a broker adapter: `source: {amqp: ...}`.
public struct AMQPBrokerAdapter: BrokerAdapter {
    /// The adapter.
    public init() {}

    public var kind: SourceKind { .amqp }

    public var brokerName: String { "RabbitMQ" }

    public func makeSession(_ context: ConsumerContext) throws -> any ConsumerSession {
        guard case .amqp(let source) = context.consumer.source else {
            throw AdapterMismatch(consumer: context.consumer.name, kind: context.consumer.source.kind, adapter: kind)
        }
        return AMQPConsumerSession(context: context, source: source)
    }

    public func openDeadLetterChannel(for consumer: ConsumerConfig, logger: Logger) async throws
        -> any DeadLetterChannel
    {
        guard case .amqp(let source) = consumer.source else {
            throw AdapterMismatch(consumer: consumer.name, kind: consumer.source.kind, adapter: kind)
        }
        return try await AMQPDeadLetterChannel.open(source: source, logger: logger)
    }
}
