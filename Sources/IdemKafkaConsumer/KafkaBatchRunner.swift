import IdemConcurrency
import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemKafka
import Logging

/// Runs the batches of the partition workers: each worker's records in order, a batch at a
/// time, up to `concurrency` batches of all partitions at once.
///
/// A batch is claimed and handled in one transaction that keeps order (a transient failure
/// ends the batch there); dead letters are produced and their delivery reports awaited;
/// then the partition's committable offset moves past the records done. What only the poll
/// loop may do (pause, seek back, resume after a backoff; pause everything while the store
/// is away) is posted to the ``KafkaInbox`` as an event.
struct KafkaBatchRunner: Sendable {
    let context: ConsumerContext
    let source: KafkaSourceConfig
    let producer: KafkaProducer
    let processor: BatchProcessor
    let permits: AsyncSemaphore
    let inbox: KafkaInbox

    private var consumer: ConsumerConfig { context.consumer }
    private var logger: Logger { context.logger }

    init(context: ConsumerContext, source: KafkaSourceConfig, producer: KafkaProducer, inbox: KafkaInbox) {
        self.context = context
        self.source = source
        self.producer = producer
        self.processor = context.makeBatchProcessor()
        self.permits = AsyncSemaphore(permits: context.consumer.concurrency)
        self.inbox = inbox
    }

    /// Whether the consumer keeps its place in the store (offset mode).
    var offsetMode: Bool { processor.offsetMode }

    /// Processes `worker`'s batches until it stops.
    ///
    /// Batches adapt to the partition's load: a batch waits (at most `batch.max_wait`) to
    /// fill `batch.size`; once one filled, the partition is behind, and the next waits to
    /// fill `batch.max_size` instead, until one does not fill.
    func work(_ worker: KafkaPartitionWorker) async {
        let batch = consumer.batch
        var target = batch.size
        while true {
            let records = await worker.nextBatch(maxCount: target, maxWait: batch.maxWait, limit: batch.limit)
            if records.isEmpty { return }
            target = batch.nextTarget(after: records.count, target: target)
            await permits.withPermit {
                // What arrived while the batch waited for its turn joins it (an adaptive
                // batch: the busier the store, the larger the batches).
                var batch = records
                worker.topUp(&batch, limit: consumer.batch.limit)
                await process(batch, worker: worker)
            }
        }
    }

    private func process(_ records: [KafkaRecord], worker: KafkaPartitionWorker) async {
        context.metrics.inFlight(records.count)
        defer { context.metrics.inFlight(-records.count) }
        let started = ContinuousClock.now
        let messages = records.map(KafkaMessageMapping.message)
        let decisions = await processor.process(messages, keepOrder: true)
        logger.trace(
            "batch processed",
            metadata: [
                "partition": "\(worker.partition)", "size": "\(records.count)",
                "ms": "\((ContinuousClock.now - started) / .milliseconds(1))",
            ])
        var doneBelow: Int64?
        defer { if let doneBelow { worker.done(below: doneBelow) } }
        for (index, decision) in decisions.enumerated() {
            let record = records[index]
            switch KafkaAction(decision.disposition) {
            case .markProcessed:
                doneBelow = record.offset + 1
            case .produceToDeadLetterThenMarkProcessed(let reason):
                do {
                    try await deadLetter(record, message: messages[index], decision: decision, reason: reason)
                    if processor.offsetMode {
                        try await context.store.releaseDeadOffset(
                            consumer: consumer.name,
                            at: LogPosition(stream: record.topic, lane: record.partition, offset: record.offset))
                    } else {
                        await context.recordDeadLettersConfirmed([decision])
                    }
                    doneBelow = record.offset + 1
                } catch {
                    logger.warning(
                        "could not produce a dead letter, retrying the record: \(error)",
                        metadata: ["source": .string(messages[index].source.description)])
                    inbox.post(
                        .retry(
                            worker.partition, offset: record.offset, delay: .seconds(1), generation: worker.awaitSeek())
                    )
                    return
                }
            case .pauseAndRetryInPlace(let delay):
                context.logRetry(messages[index], decision: decision, delay: delay, attemptsOnly: true)
                inbox.post(
                    .retry(worker.partition, offset: record.offset, delay: delay, generation: worker.awaitSeek()))
                return
            case .pauseAllAndReconnect:
                inbox.post(.storeUnavailable(worker.partition, offset: record.offset, generation: worker.awaitSeek()))
                return
            }
        }
    }

    private func deadLetter(
        _ record: KafkaRecord, message: Message, decision: BatchProcessor.Decision, reason: DeadLetterReason
    ) async throws {
        let headers = context.deadLetterHeaders(message, decision: decision, reason: reason)
        let topic = source.deadLetterTopic(for: record.topic)
        _ = try await producer.produce(
            topic: topic, key: record.key, value: record.value,
            headers: KafkaMessageMapping.deadLetterHeaders(record, idem: headers))
        context.logDeadLettered(message, decision: decision, reason: reason, destination: topic)
    }
}
