import IdemConcurrency
import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemKafka
import Logging

/// One session of a Kafka consumer: a librdkafka consumer in the group and a producer for
/// dead letters, from subscribing to closing.
///
/// Records of each partition are processed in order, partitions in parallel; offsets are
/// committed only below records that are done. The poll loop (``KafkaPollLoop``) owns the
/// librdkafka consumer and decides through a pure ``KafkaConsumerStateMachine``: it routes
/// records to a ``KafkaPartitionWorker`` per assigned partition, whose batches a
/// ``KafkaBatchRunner`` processes, carries out the workers' requests (pause, seek back,
/// resume after a backoff), handles rebalances (a revoked partition's batch in flight finishes and its
/// offset is committed before the partition is given up), and commits done offsets every
/// `commit_interval`. Dead letters go to the dead-letter topic through an idempotent
/// producer whose delivery report is awaited before the record counts as done. While
/// PostgreSQL is away the session pauses every partition and keeps its group membership.
struct KafkaConsumerSession: ConsumerSession {
    let context: ConsumerContext
    let source: KafkaSourceConfig

    func run(_ status: ConsumerStatus) async throws {
        let logger = context.logger
        let producer = try await KafkaProducer.make(
            bootstrapServers: source.brokers, configuration: source.producerProperties, logger: logger)
        let kafka: KafkaConsumer
        do {
            kafka = try await KafkaConsumer.make(
                bootstrapServers: source.brokers, groupId: source.group, configuration: source.consumerProperties,
                logger: logger)
            try await kafka.subscribe(topics: source.topics)
        } catch {
            await producer.close()
            throw error
        }
        logger.info(
            "consuming",
            metadata: [
                "topics": .string(source.topics.joined(separator: ",")), "group": .string(source.group),
                "member": .string(source.consumerProperties["group.instance.id"] ?? "dynamic"),
            ])
        status.connected()
        let loop = KafkaPollLoop(context: context, source: source, status: status, kafka: kafka, producer: producer)
        var failure: (any Error)?
        do {
            try await loop.run()
        } catch {
            failure = error
        }
        await loop.stopAll()
        await loop.commitFinal()
        await kafka.close()
        await producer.close()
        if let failure { throw failure }
        logger.info("consumer stopped")
    }
}
