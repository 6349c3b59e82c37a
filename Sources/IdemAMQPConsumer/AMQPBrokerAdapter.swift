import IdemAMQP
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

    public var clientLibrary: ClientLibrary? { ClientLibrary(name: "librabbitmq", version: AMQPLibrary.version) }

    public func makeSession(_ context: ConsumerContext) throws -> any ConsumerSession {
        guard case .amqp(let source) = context.consumer.source else {
            throw AdapterMismatch(consumer: context.consumer.name, kind: context.consumer.source.kind, adapter: kind)
        }
        return AMQPConsumerSession(context: context, source: source)
    }

    public func checkBroker(for consumer: ConsumerConfig, timeout: Duration, logger: Logger) async -> BrokerCheck {
        guard case .amqp(let source) = consumer.source else { return BrokerCheck() }
        do {
            let connection = try await AMQPConnection.connect(
                url: source.url, tls: source.tlsOptions, connectionName: "idem check-config", connectTimeout: timeout,
                rpcTimeout: timeout, logger: logger)
            defer { Task { await connection.close() } }
            return BrokerCheck(
                problems: try await AMQPTopologyCheck.problems(connection, source: source, consumer: consumer))
        } catch {
            return BrokerCheck(notes: ["consumer \(consumer.name): the queue on RabbitMQ was not checked: \(error)"])
        }
    }

    public func openDeadLetterChannel(for consumer: ConsumerConfig, logger: Logger) async throws
        -> any DeadLetterChannel
    {
        guard case .amqp(let source) = consumer.source else {
            throw AdapterMismatch(consumer: consumer.name, kind: consumer.source.kind, adapter: kind)
        }
        return try await AMQPDeadLetterChannel.open(source: source, logger: logger)
    }

    public var publishURLSyntax: String { "amqp[s]://user:password@host:port/vhost with --queue NAME" }

    public func publishTarget(for consumer: ConsumerConfig) throws -> PublishTarget {
        guard case .amqp(let source) = consumer.source else {
            throw AdapterMismatch(consumer: consumer.name, kind: consumer.source.kind, adapter: kind)
        }
        let settings = AMQPPublisher.Settings(
            url: source.url, queue: source.queue, declare: source.declare, tls: source.tlsOptions)
        return PublishTarget(
            kind: kind, destination: source.queue, shown: "queue \(source.queue) at \(Redaction.url(source.url))",
            settings: settings)
    }

    public func publishTarget(url: String, queue: String?) throws -> PublishTarget? {
        let lowered = url.lowercased()
        guard lowered.hasPrefix("amqp://") || lowered.hasPrefix("amqps://") else { return nil }
        let shown = Redaction.url(url)
        guard let queue, !queue.isEmpty else {
            throw PublishTargetError("--to \(shown): an AMQP target needs --queue NAME")
        }
        return PublishTarget(
            kind: kind, destination: queue, shown: "queue \(queue) at \(shown)",
            settings: AMQPPublisher.Settings(url: url, queue: queue, declare: false, tls: nil))
    }

    public func openPublisher(
        _ target: PublishTarget, client: String, deliveryTimeout: Duration, logger: Logger
    ) async throws -> any MessagePublisher {
        guard let settings = target.settings as? AMQPPublisher.Settings else {
            throw PublishTargetError("\(target.shown) is not a RabbitMQ target")
        }
        return try await AMQPPublisher.open(settings, client: client, logger: logger)
    }
}
