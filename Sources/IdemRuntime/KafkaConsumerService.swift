import Foundation
import IdemConcurrency
import IdemConfig
import IdemCore
import IdemKafka
import Logging
import ServiceLifecycle
import Synchronization

/// A Kafka consumer: records of each partition in order, partitions in parallel, dedup and
/// handler through the store, offsets committed only below records that are done.
///
/// One poll loop owns the librdkafka consumer (on its own thread): it routes records to a
/// ``KafkaPartitionWorker`` per assigned partition, carries out the workers' requests
/// (pause, seek back, resume after a backoff), handles rebalances (a revoked partition's
/// batch in flight finishes and its offset is committed before the partition is given up),
/// and commits done offsets every `commit_interval`. Dead letters go to the dead-letter
/// topic through an idempotent producer whose delivery report is awaited before the
/// record counts as done.
public struct KafkaConsumerService: Service {
    let consumer: ConsumerConfig
    let source: KafkaSourceConfig
    let store: any DedupStore
    let handler: any MessageHandler
    let readiness: StoreReadiness
    let metrics: ConsumerMetrics
    let health: HealthState
    let logger: Logger

    /// Creates the service for `consumer`, whose source must be Kafka; it reports to
    /// `metrics` and `health`.
    init(
        consumer: ConsumerConfig, source: KafkaSourceConfig, store: any DedupStore, handler: any MessageHandler,
        readiness: StoreReadiness, metrics: ConsumerMetrics, health: HealthState, logger: Logger
    ) {
        self.metrics = metrics
        self.health = health
        self.consumer = consumer
        self.source = source
        self.store = store
        self.handler = handler
        self.readiness = readiness
        var logger = logger
        logger[metadataKey: "consumer"] = .string(consumer.name)
        self.logger = logger
    }

    public func run() async throws {
        defer { health.set(consumer.name, .stopped) }
        do {
            try await cancelWhenGracefulShutdown { try await readiness.waitUntilReady() }
        } catch {
            return
        }
        var delay = Duration.milliseconds(500)
        var sessions = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                sessions += 1
                if sessions > 1 { metrics.reconnected("kafka") }
                try await runSession()
                return
            } catch is CancellationError {
                return
            } catch {
                logger.warning("Kafka consumer failed, starting a new one in \(delay): \(error)")
                health.set(consumer.name, .reconnecting("\(error)"))
                let wait = delay
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                } catch {
                    return
                }
                delay = min(delay * 2, .seconds(30))
            }
        }
    }

    // MARK: A session: one librdkafka consumer and producer

    private func runSession() async throws {
        let producer = try await KafkaProducer.make(
            bootstrapServers: source.brokers,
            configuration: source.producerProperties, logger: logger)
        let kafka: KafkaConsumer
        do {
            kafka = try await KafkaConsumer.make(
                bootstrapServers: source.brokers, groupId: source.group, configuration: source.properties,
                logger: logger)
            try await kafka.subscribe(topics: source.topics)
        } catch {
            await producer.close()
            throw error
        }
        logger.info(
            "consuming",
            metadata: ["topics": .string(source.topics.joined(separator: ",")), "group": .string(source.group)])
        health.set(consumer.name, .consuming)
        let session = KafkaSession(
            service: self, kafka: kafka, producer: producer,
            processor: BatchProcessor(
                consumer: consumer, store: store, handler: handler, logger: logger,
                handlerConcurrency: consumer.handler.dispatchLimit(batchSize: consumer.batch.size), metrics: metrics),
            permits: AsyncSemaphore(permits: consumer.concurrency))
        var failure: (any Error)?
        do {
            try await session.pollLoop()
        } catch {
            failure = error
        }
        await session.stopAll()
        await session.commitFinal()
        await kafka.close()
        await producer.close()
        if let failure { throw failure }
        logger.info("consumer stopped")
    }
}
