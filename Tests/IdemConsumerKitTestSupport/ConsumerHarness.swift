import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemLogCapture
import Logging
import Metrics

/// One consumer run as the worker runs it, without services: an ``InMemoryBroker`` and an
/// ``InMemoryDedupStore`` under a ``ConsumerSupervisor``, its logs captured.
public struct ConsumerHarness: Sendable {
    public let consumer: ConsumerConfig
    public let broker: InMemoryBroker
    public let store: InMemoryDedupStore
    public let handler: any MessageHandler
    public let health: HealthState
    public let readiness = StoreReadiness()
    public let metrics: ConsumerMetrics
    public let logs = LogCapture()

    /// A consumer named `name` of messages identified by `identity`, in dedup `mode`, with
    /// `maxAttempts` and a retry backoff of a few milliseconds.
    public static func consumer(
        _ name: String = "orders", identity: [IDSource] = [.messageId], mode: DedupMode = .transactional,
        maxAttempts: Int = 3, batchSize: Int = 20, maxBodyBytes: Int = 1 << 20,
        onPayloadConflict: PayloadConflictAction = .deadLetter
    ) -> ConsumerConfig {
        ConsumerConfig(
            name: name, source: .amqp(AMQPSourceConfig(url: "amqp://localhost", queue: name)),
            identity: IdentityChain(identity), handler: HandlerConfig(kind: .swift(name: "test")),
            dedup: DedupSettings(mode: mode, lease: .seconds(30), onPayloadConflict: onPayloadConflict),
            retry: RetryPolicy(
                maxAttempts: maxAttempts, initialBackoff: .milliseconds(2), multiplier: 2,
                maxBackoff: .milliseconds(20),
                jitter: 0),
            batch: BatchSettings(size: batchSize), maxBodyBytes: maxBodyBytes)
    }

    /// The harness of `consumer`; its broker is registered under the consumer's source kind
    /// (or `broker`, when given).
    public init(
        consumer: ConsumerConfig = Self.consumer(), broker: InMemoryBroker? = nil,
        store: InMemoryDedupStore = InMemoryDedupStore(), handler: any MessageHandler = EffectLog(),
        metrics factory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.consumer = consumer
        self.broker = broker ?? InMemoryBroker(kind: consumer.source.kind)
        self.store = store
        self.handler = handler
        self.health = HealthState(consumers: [consumer.name])
        self.metrics = ConsumerMetrics(consumer: consumer.name, factory: factory)
    }

    /// The context the supervisor hands the broker.
    public var context: ConsumerContext {
        ConsumerContext(
            consumer: consumer, store: store, handler: handler, readiness: readiness, metrics: metrics,
            health: health, logger: logs.logger(label: "idem.tests.consumer", level: .debug))
    }

    /// Runs the consumer's supervisor (the store is marked ready first) until the task is
    /// cancelled or the supervisor returns.
    public func start() async -> Task<Void, any Error> {
        await readiness.markReady()
        let supervisor = ConsumerSupervisor(adapter: broker, context: context)
        return Task { try await supervisor.run() }
    }

    /// `/readyz`'s state of the consumer.
    public var state: HealthState.ConsumerState? { health.state(of: consumer.name) }
}
